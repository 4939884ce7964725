#include "aevb/model_file.hpp"

#include "aevb/checksum.hpp"
#include "aevb/error.hpp"
#include "aevb/h5.hpp"

namespace aevb {

constexpr int64_t kModelFormatVersion = 1;

void write_model_spec(int64_t loc, const ModelSpec& s) {
  h5::write_attr_int(loc, "x_dim", s.x_dim);
  h5::write_attr_ints(loc, "hidden", s.hidden);
  h5::write_attr_int(loc, "latent", s.latent);
  h5::write_attr_string(loc, "activation", to_string(s.activation));
  h5::write_attr_string(loc, "decoder", to_string(s.decoder));
  h5::write_attr_string(loc, "gaussian_mean", s.gaussian_sigmoid_mean ? "sigmoid" : "identity");
}

ModelSpec read_model_spec(int64_t loc, const std::string& path) {
  ModelSpec s;
  try {
    s.x_dim = h5::read_attr_int(loc, "x_dim");
    s.hidden = h5::read_attr_ints(loc, "hidden");
    s.latent = h5::read_attr_int(loc, "latent");
    s.activation = parse_activation(h5::read_attr_string(loc, "activation"));
    s.decoder = parse_decoder(h5::read_attr_string(loc, "decoder"));
    s.gaussian_sigmoid_mean = h5::read_attr_string(loc, "gaussian_mean") == "sigmoid";
  } catch (const Error& e) {
    throw input_error(path + ": bad model architecture: " + e.what());
  }
  if (s.x_dim <= 0 || s.latent <= 0)
    throw input_error(path + ": bad model architecture: non-positive dimensions");
  for (auto h : s.hidden)
    if (h <= 0) throw input_error(path + ": bad model architecture: non-positive hidden layer size");
  return s;
}

void save_model(const std::string& path, const Vae& m, const ModelMeta& meta) {
  h5::AtomicFile f(path);
  const hid_t root = f.id();
  h5::write_attr_string(root, "format", "aevb-model");
  h5::write_attr_int(root, "format_version", kModelFormatVersion);
  write_model_spec(root, m.spec());
  h5::write_attr_ints(root, "row_shape", meta.row_shape);
  h5::write_attr_double(root, "data_scale", meta.data_scale);
  h5::write_attr_string(root, "dataset", meta.dataset);
  h5::write_attr_string(root, "binarization", meta.binarization);
  h5::write_attr_int(root, "step", meta.step);
  h5::write_attr_int(root, "epoch", meta.epoch);
  h5::write_attr_string(root, "config_ini", meta.config_ini);
  h5::write_attr_string(root, "created_by", "aevb-train 0.1.0");
  h5::write_attr_string(root, "params_sha256", sha256_hex(m.params.data(), m.params.size() * sizeof(float)));
  h5::write_dataset(root, "params", m.params.data(), {static_cast<hsize_t>(m.params.size())});
  h5::Id d = h5::open_dataset(root, "params");
  std::vector<std::string> names;
  std::vector<int64_t> offs, rows, cols;
  for (const auto& b : m.layout().blocks()) {
    names.push_back(b.name);
    offs.push_back(b.offset);
    rows.push_back(b.rows);
    cols.push_back(b.cols);
  }
  h5::write_attr_strings(d, "block_names", names);
  h5::write_attr_ints(d, "block_offsets", offs);
  h5::write_attr_ints(d, "block_rows", rows);
  h5::write_attr_ints(d, "block_cols", cols);
  d.reset();
  f.commit();
}

LoadedModel load_model(const std::string& path) {
  h5::Id f = h5::open_file_read(path);
  try {
    if (h5::read_attr_string(f, "format") != "aevb-model")
      throw input_error(path + ": not an aevb model file (format attribute is not 'aevb-model')");
  } catch (const Error& e) {
    throw input_error(std::string(e.what()));
  }
  const int64_t version = h5::read_attr_int(f, "format_version");
  if (version != kModelFormatVersion)
    throw input_error(path + ": model format_version " + std::to_string(version) + " is not supported (expected " +
                      std::to_string(kModelFormatVersion) + ")");
  LoadedModel out;
  out.model = std::make_unique<Vae>(read_model_spec(f, path));
  auto& meta = out.meta;
  meta.row_shape = h5::read_attr_ints(f, "row_shape");
  meta.data_scale = h5::read_attr_double(f, "data_scale");
  meta.dataset = h5::read_attr_string(f, "dataset");
  meta.binarization = h5::read_attr_string(f, "binarization");
  meta.step = h5::read_attr_int(f, "step");
  meta.epoch = h5::read_attr_int(f, "epoch");
  meta.config_ini = h5::read_attr_string(f, "config_ini");
  auto p = h5::read_dataset<float>(f, "params");
  Vae& m = *out.model;
  if (p.dims.size() != 1 || static_cast<int64_t>(p.dims[0]) != m.num_params())
    throw input_error(path + ": /params has " + std::to_string(p.data.size()) + " values but the architecture needs " +
                      std::to_string(m.num_params()));
  std::copy(p.data.begin(), p.data.end(), m.params.begin());
  const std::string want = h5::read_attr_string(f, "params_sha256");
  if (sha256_hex(m.params.data(), m.params.size() * sizeof(float)) != want)
    throw input_error(path + ": /params does not match its params_sha256 checksum (corrupted file)");
  return out;
}

}  // namespace aevb
