// CSV: the first byte picks the options (--header, delimiter, a label column
// by index or by name, --columns by index or name, --value-range); the rest is
// the file. Both passes of convert_csv through scan_csv.
#include "aevb/convert/convert.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t k = data[0];
  aevb::CsvOptions o;
  o.input = aevb::fuzz::write_scratch("in.csv", data + 1, size - 1);
  o.header = k & 1;
  o.delimiter = (k & 2) ? ';' : ',';
  switch ((k >> 2) & 3) {
    case 1: o.label_column = "0"; break;
    case 2: o.label_column = o.header ? "label" : "1"; break;
    case 3: o.label_column = "2"; break;
    default: break;
  }
  switch ((k >> 4) & 3) {
    case 1: o.columns = "1"; break;
    case 2: o.columns = o.header ? "a,b" : "0,1"; break;
    default: break;
  }
  if (k & 0x40) o.value_range = {0, 1};
  aevb::fuzz::expect_clean([&] { aevb::scan_csv(o); });
  return 0;
}
