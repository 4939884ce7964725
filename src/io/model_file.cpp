#include "aevb/io/model_file.hpp"

#include <hdf5.h>
#include "aevb/base/version.hpp"

#include "aevb/io/checksum.hpp"
#include "aevb/base/error.hpp"
#include "aevb/io/h5.hpp"

namespace aevb {

constexpr int64_t kModelFormatVersion = 1;

void write_model_spec(int64_t loc, const ModelSpec& s) {
  h5::write_attr_int(loc, "x_dim", s.x_dim);
  h5::write_attr_ints(loc, "hidden", s.hidden);
  h5::write_attr_int(loc, "latent", s.latent);
  h5::write_attr_string(loc, "activation", to_string(s.activation));
  h5::write_attr_string(loc, "decoder", to_string(s.decoder));
  h5::write_attr_string(loc, "gaussian_mean", s.gaussian_sigmoid_mean ? "sigmoid" : "identity");
  // "map": /params is the point estimate; "full": the decoder's weights have a
  // Gaussian posterior, /params holds [encoder | mu_theta | rho_theta].
  h5::write_attr_string(loc, "bayes", s.bayes ? "full" : "map");
  if (s.bayes) h5::write_attr_double(loc, "weight_prior_precision", s.prior_precision);
}

ModelSpec read_model_spec(int64_t loc, const std::string& path) {
  ModelSpec s;
  // Values the parse_* helpers reject are named here as file contents, not as
  // the command-line options those helpers were written for.
  auto bad_value = [&](const char* attr, const std::string& v, const char* expected) {
    return input_error(path + ": unknown " + attr + " '" + v + "' in the model architecture (expected " + expected + ")");
  };
  try {
    s.x_dim = h5::read_attr_int(loc, "x_dim");
    s.hidden = h5::read_attr_ints(loc, "hidden");
    s.latent = h5::read_attr_int(loc, "latent");
    const std::string act = h5::read_attr_string(loc, "activation");
    if (act != "tanh" && act != "relu" && act != "softplus") throw bad_value("activation", act, "tanh, relu or softplus");
    s.activation = parse_activation(act);
    const std::string dec = h5::read_attr_string(loc, "decoder");
    if (dec != "bernoulli" && dec != "gaussian") throw bad_value("decoder", dec, "bernoulli or gaussian");
    s.decoder = parse_decoder(dec);
    const std::string mean = h5::read_attr_string(loc, "gaussian_mean");
    if (mean != "sigmoid" && mean != "identity") throw bad_value("gaussian_mean", mean, "sigmoid or identity");
    s.gaussian_sigmoid_mean = mean == "sigmoid";
    if (h5::has_attr(loc, "bayes")) {  // absent in files of earlier releases: MAP
      const std::string bayes = h5::read_attr_string(loc, "bayes");
      if (bayes != "map" && bayes != "full") throw bad_value("bayes", bayes, "map or full");
      s.bayes = bayes == "full";
      if (s.bayes) s.prior_precision = static_cast<float>(h5::read_attr_double(loc, "weight_prior_precision"));
    }
  } catch (const Error& e) {
    if (e.code() == kExitBadInput && std::string(e.what()).rfind(path + ": unknown ", 0) == 0) throw;
    throw input_error(path + ": bad model architecture: " + e.what());
  }
  if (s.x_dim <= 0 || s.latent <= 0)
    throw input_error(path + ": bad model architecture: non-positive dimensions");
  for (auto h : s.hidden)
    if (h <= 0) throw input_error(path + ": bad model architecture: non-positive hidden layer size");
  // Before anything is allocated for it: the architecture must fit in int64
  // and match the stored /params (a huge x_dim would otherwise be allocated).
  constexpr int64_t kMaxDim = int64_t{1} << 31;
  bool too_big = s.x_dim > kMaxDim || s.latent > kMaxDim;
  for (auto h : s.hidden) too_big = too_big || h > kMaxDim;
  const int64_t n = too_big ? -1 : param_count(s);
  if (n < 0) throw input_error(path + ": bad model architecture: layer sizes beyond 2^31 or a parameter count that overflows");
  check_param_count(loc, "params", n, path);
  return s;
}

void write_model_core(int64_t root, const std::string& format, int64_t version, const Vae& m) {
  h5::write_attr_string(root, "format", format);
  h5::write_attr_int(root, "format_version", version);
  write_model_spec(root, m.spec());
  h5::write_attr_string(root, "created_by", std::string("aevb-train ") + aevb::version());
  const int64_t n = m.num_params();
  h5::write_attr_string(root, "params_sha256", sha256_hex(m.params.data(), static_cast<size_t>(n) * sizeof(float)));
  h5::write_dataset(root, "params", m.params.data(), {static_cast<hsize_t>(n)});
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
}

void save_model(const std::string& path, const Vae& m, const ModelMeta& meta) {
  h5::AtomicFile f(path);
  const hid_t root = f.id();
  write_model_core(root, "aevb-model", kModelFormatVersion, m);
  h5::write_attr_ints(root, "row_shape", meta.row_shape);
  h5::write_attr_double(root, "data_scale", meta.data_scale);
  h5::write_attr_string(root, "dataset", meta.dataset);
  h5::write_attr_string(root, "binarization", meta.binarization);
  h5::write_attr_int(root, "step", meta.step);
  h5::write_attr_int(root, "epoch", meta.epoch);
  h5::write_attr_int(root, "train_rows", meta.train_rows);
  h5::write_attr_string(root, "config_ini", meta.config_ini);
  if (!meta.selected_on.empty()) {
    h5::write_attr_string(root, "selected_on", meta.selected_on);
    h5::write_attr_double(root, "selected_bound", meta.selected_bound);
  }
  f.commit();
}

void check_param_count(int64_t loc, const std::string& name, int64_t n, const std::string& path) {
  if (!h5::has_link(loc, name)) throw input_error(path + ": missing dataset /" + name);
  const h5::Id d = h5::open_dataset(loc, name);
  const auto dims = h5::dataset_dims(d);
  if (dims.size() != 1 || dims[0] != static_cast<hsize_t>(n)) {
    std::string shape;
    for (size_t i = 0; i < dims.size(); ++i) shape += (i ? " x " : "") + std::to_string(dims[i]);
    throw input_error(path + ": /" + name + " has shape [" + shape + "] but the architecture needs " +
                      std::to_string(n) + " values");
  }
  // A declared shape with no data behind it (our writer stores /params and the
  // optimizer state uncompressed) must not be allocated before the read fails.
  const hsize_t stored = H5Dget_storage_size(d);
  if (stored < static_cast<hsize_t>(n) * sizeof(float))
    throw input_error(path + ": /" + name + " declares " + std::to_string(n) + " values but stores only " +
                      std::to_string(stored) + " bytes (truncated or corrupted file)");
}

namespace {

// The architecture, /params and its checksum: common to models and checkpoints.
void read_params(hid_t f, const std::string& path, LoadedModel& out) {
  out.model = std::make_unique<Vae>(read_model_spec(f, path));
  check_param_count(f, "params", out.model->num_params(), path);
  auto p = h5::read_dataset<float>(f, "params");
  Vae& m = *out.model;
  if (p.dims.size() != 1 || static_cast<int64_t>(p.dims[0]) != m.num_params())
    throw input_error(path + ": /params has " + std::to_string(p.data.size()) + " values but the architecture needs " +
                      std::to_string(m.num_params()));
  std::copy(p.data.begin(), p.data.end(), m.params.begin());
  out.meta.params_sha256 = h5::read_attr_string(f, "params_sha256");
  if (sha256_hex(m.params.data(), m.params.size() * sizeof(float)) != out.meta.params_sha256)
    throw input_error(path + ": /params does not match its params_sha256 checksum (corrupted file)");
}

std::string read_format(hid_t f, const std::string& path) {
  if (!h5::has_attr(f, "format"))
    throw input_error(path + ": not an aevb model file or checkpoint (no format attribute)");
  return h5::read_attr_string(f, "format");
}

}  // namespace

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
  auto& meta = out.meta;
  meta.format = "aevb-model";
  meta.row_shape = h5::read_attr_ints(f, "row_shape");
  meta.data_scale = h5::read_attr_double(f, "data_scale");
  meta.dataset = h5::read_attr_string(f, "dataset");
  meta.binarization = h5::read_attr_string(f, "binarization");
  meta.step = h5::read_attr_int(f, "step");
  meta.epoch = h5::read_attr_int(f, "epoch");
  meta.config_ini = h5::read_attr_string(f, "config_ini");
  if (h5::has_attr(f, "train_rows")) meta.train_rows = h5::read_attr_int(f, "train_rows");
  read_params(f, path, out);
  return out;
}

LoadedModel load_model_or_checkpoint(const std::string& path) {
  std::string format;
  {
    h5::Id f = h5::open_file_read(path);
    format = read_format(f, path);
  }
  if (format == "aevb-model") return load_model(path);
  if (format != "aevb-checkpoint")
    throw input_error(path + ": format '" + format + "' is neither 'aevb-model' nor 'aevb-checkpoint'");
  h5::Id f = h5::open_file_read(path);
  LoadedModel out;
  auto& meta = out.meta;
  meta.format = format;
  // Checkpoints carry the training state; the data description is optional here.
  if (h5::has_attr(f, "row_shape")) meta.row_shape = h5::read_attr_ints(f, "row_shape");
  if (h5::has_attr(f, "data_scale")) meta.data_scale = h5::read_attr_double(f, "data_scale");
  if (h5::has_attr(f, "dataset")) meta.dataset = h5::read_attr_string(f, "dataset");
  if (h5::has_attr(f, "binarization")) meta.binarization = h5::read_attr_string(f, "binarization");
  if (h5::has_attr(f, "step")) meta.step = h5::read_attr_int(f, "step");
  if (h5::has_attr(f, "epoch")) meta.epoch = h5::read_attr_int(f, "epoch");
  if (h5::has_attr(f, "config_ini")) meta.config_ini = h5::read_attr_string(f, "config_ini");
  if (h5::has_attr(f, "train_rows")) meta.train_rows = h5::read_attr_int(f, "train_rows");
  read_params(f, path, out);
  return out;
}

}  // namespace aevb
