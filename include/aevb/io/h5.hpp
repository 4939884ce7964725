// Thin RAII helpers over the HDF5 C API, shared by the data layer, model files
// and checkpoints.
//
// Why not the HDF5 C++ API: Debian's serial C library is the common denominator,
// and the C API's error stack is easier to turn into one clear message. Every
// failing call becomes an aevb::Error naming the file and the object; HDF5's own
// stack printing is switched off (h5::quiet) so stderr carries one line only.
//
// Reading errors are input_error (exit 3); writing errors are output_error (exit 4).
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace aevb::h5 {

// Turns off HDF5's automatic error printing (idempotent; called by open/create).
void quiet();

// Move-only owner of an hid_t; closes it with the matching H5?close.
class Id {
 public:
  Id() = default;
  explicit Id(hid_t id) : id_(id) {}
  ~Id() { reset(); }
  Id(Id&& o) noexcept : id_(o.id_) { o.id_ = -1; }
  Id& operator=(Id&& o) noexcept;
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;

  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }  // NOLINT: lets Id go straight into H5 calls
  bool valid() const { return id_ >= 0; }
  hid_t release();
  void reset();  // closes now; errors on close are ignored (destructor semantics)

 private:
  hid_t id_ = -1;
};

// "<file>:<object path>" for error messages; works on any location id.
std::string describe(hid_t loc);
std::string describe(hid_t loc, const std::string& child);

Id open_file_read(const std::string& path);   // input_error if missing / not HDF5
// Tells the kernel that this file (opened with the default sec2 driver) is
// read at random places: no readahead. Without it a read of a 1.6 MB block
// made the kernel fetch up to read_ahead_kb (8 MiB here) of neighbouring
// rows nobody had asked for. A no-op for other drivers.
void advise_random_access(hid_t file);
Id open_file_rw(const std::string& path);     // input_error if missing / not HDF5
Id create_file(const std::string& path);      // truncates; output_error on failure

bool has_link(hid_t loc, const std::string& name);  // e.g. "labels", "model/enc"
Id open_group(hid_t loc, const std::string& name);
Id create_group(hid_t loc, const std::string& name);
Id open_dataset(hid_t loc, const std::string& name);

// ---- attributes (on a file, group or dataset) ----
// Distinct names instead of overloads: write_attr(loc, "n", 1) would be ambiguous
// between int64 and double, and a silent pick would store the wrong type.
bool has_attr(hid_t loc, const std::string& name);
void write_attr_string(hid_t loc, const std::string& name, const std::string& v);
void write_attr_int(hid_t loc, const std::string& name, int64_t v);
void write_attr_double(hid_t loc, const std::string& name, double v);
void write_attr_ints(hid_t loc, const std::string& name, const std::vector<int64_t>& v);
void write_attr_doubles(hid_t loc, const std::string& name, const std::vector<double>& v);
void write_attr_strings(hid_t loc, const std::string& name, const std::vector<std::string>& v);
// Readers throw input_error naming file, object and attribute if it is missing or
// has the wrong kind (string vs integer vs float). Numeric readers convert between
// widths (int32 -> int64 etc.); a scalar reads as a one-element vector.
std::string read_attr_string(hid_t loc, const std::string& name);
int64_t read_attr_int(hid_t loc, const std::string& name);
double read_attr_double(hid_t loc, const std::string& name);
std::vector<int64_t> read_attr_ints(hid_t loc, const std::string& name);
std::vector<double> read_attr_doubles(hid_t loc, const std::string& name);
std::vector<std::string> read_attr_strings(hid_t loc, const std::string& name);

// ---- datasets ----
enum class DType { uint8, int32, int64, float32, float64, other };
std::string dtype_name(DType t);  // "uint8", "float32", ...
DType dataset_dtype(hid_t dset);  // by class, sign and size of the stored type
std::vector<hsize_t> dataset_dims(hid_t dset);

struct WriteOptions {
  hsize_t chunk_rows = 0;  // 0: contiguous unless gzip or fletcher32 need chunks (then auto)
  int gzip_level = 0;      // 0 = no compression, 1..9
  bool fletcher32 = false; // a checksum per chunk, verified by HDF5 on every read
};
// True if the dataset's chunks carry the Fletcher32 checksum filter.
bool has_fletcher32(hid_t dset);
// Rows per chunk of a chunked dataset; 0 if it is stored contiguously.
hsize_t chunk_rows(hid_t dset);

// Creates a dataset of element type T (stored little-endian) with the given dims.
// Supported T: uint8_t, int32_t, int64_t, float, double.
template <class T>
Id create_dataset(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                  const WriteOptions& opt = {});
template <class T>
void write_dataset(hid_t loc, const std::string& name, const T* data,
                   const std::vector<hsize_t>& dims, const WriteOptions& opt = {});
// Writes rows [first_row, first_row + nrows) of an existing dataset (hyperslab on dim 0).
template <class T>
void write_rows(hid_t dset, hsize_t first_row, hsize_t nrows, const T* data);

template <class T>
struct Array {
  std::vector<T> data;
  std::vector<hsize_t> dims;
};
// Reads a whole dataset, converting to T (HDF5 converts numeric types).
template <class T>
Array<T> read_dataset(hid_t loc, const std::string& name);
// Rows [first_row, first_row + nrows) into out (nrows * row size elements).
template <class T>
void read_rows(hid_t dset, hsize_t first_row, hsize_t nrows, T* out);
// The given rows (strictly increasing) into out, in that order. Nearby rows are
// read together in one hyperslab so that scattered reads stay cheap.
template <class T>
void read_row_list(hid_t dset, const std::vector<int64_t>& sorted_rows, T* out);

// Elements per row of a dataset (product of dims[1..]); 1 for a 1-D dataset.
hsize_t row_elements(hid_t dset);

// ---- atomic files ----
// Creates "<final>.tmp.<pid>" in the final directory; commit() makes it appear
// under the final name, all-or-nothing. Without commit() the temp file is removed.
class AtomicFile {
 public:
  // output_error naming the directory if it is missing or not writable.
  explicit AtomicFile(const std::string& final_path);
  ~AtomicFile();
  AtomicFile(AtomicFile&&) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  hid_t id() const { return file_.get(); }
  const std::string& final_path() const { return final_; }
  const std::string& temp_path() const { return temp_; }
  // Flush, close and fsync the temp file, but keep it under its temp name. Lets a
  // writer finish many files and rename them all at the end. Idempotent.
  void finish();
  // finish(), then rename over the final path and fsync the directory.
  void commit();
  bool committed() const { return committed_; }

 private:
  std::string final_, temp_;
  Id file_;
  bool finished_ = false, committed_ = false;
};

}  // namespace aevb::h5
