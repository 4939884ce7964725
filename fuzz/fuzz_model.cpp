// Model files and checkpoints: a valid model file (save_model) and checkpoint
// (write_checkpoint) of a small VAE written once; per input the first byte
// picks which, the rest are the edits (h5_mutate.hpp), then our readers
// (load_model, read_checkpoint + check_resumable, load_model_or_checkpoint).
#include <hdf5.h>

#include "aevb/base/error.hpp"
#include "aevb/core/optimizer.hpp"
#include "aevb/core/vae.hpp"
#include "aevb/io/checkpoint.hpp"
#include "aevb/io/h5.hpp"
#include "aevb/io/model_file.hpp"
#include "h5_mutate.hpp"

namespace {

aevb::ModelSpec small_spec() {
  aevb::ModelSpec spec;
  spec.x_dim = 6;
  spec.hidden = {3};
  spec.latent = 2;
  return spec;
}

aevb::RunIdentity identity() {
  aevb::RunIdentity id;
  id.dataset = "fz";
  id.train_split = "train";
  id.data_fingerprint = "abc";
  id.optimizer = "adam";
  id.binarization = "dynamic";
  id.train_rows = 5;
  id.x_dim = 6;
  id.batch = 2;
  return id;
}

struct Setup {
  std::string model, ckpt, pristine_model, pristine_ckpt;
  aevb::fuzz::H5Names model_names, ckpt_names;
  Setup() {
    aevb::h5::quiet();
    // HDF5 callocs a large metadata cache per open file; under ASan every such
    // allocation is a fresh mmap (page faults dominated, ~60 exec/s). Unlimited
    // free lists let HDF5 reuse its blocks: same code paths, far faster.
    H5set_free_list_limits(-1, -1, -1, -1, -1, -1);
    const std::string d = aevb::fuzz::scratch_dir();
    aevb::Vae m(small_spec());
    for (size_t i = 0; i < m.params.size(); ++i) m.params[i] = 0.01f * static_cast<float>(i);
    aevb::ModelMeta meta;
    meta.row_shape = {2, 3};
    meta.dataset = "fz";
    meta.binarization = "dynamic";
    pristine_model = d + "/pristine-model.h5";
    aevb::save_model(pristine_model, m, meta);
    aevb::OptimizerConfig oc;
    oc.kind = aevb::OptimizerKind::kAdam;
    aevb::Optimizer opt(oc, m.num_params());
    pristine_ckpt = d + "/pristine-ckpt.h5";
    aevb::write_checkpoint(pristine_ckpt, m, opt, aevb::TrainProgress{}, identity());
    model = d + "/model.h5";
    ckpt = d + "/ckpt.h5";
    model_names = aevb::fuzz::list_h5(pristine_model);
    ckpt_names = aevb::fuzz::list_h5(pristine_ckpt);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Setup s;
  if (size < 1) return 0;
  if (data[0] & 1) {
    aevb::fuzz::mutate_copy(s.pristine_ckpt, s.ckpt, s.ckpt_names, {data + 1, size - 1});
    aevb::fuzz::expect_clean([&] {
      const aevb::Checkpoint c = aevb::read_checkpoint(s.ckpt);
      aevb::check_resumable(c, small_spec(), identity());
    });
    aevb::fuzz::expect_clean([&] { aevb::load_model_or_checkpoint(s.ckpt); });
  } else {
    aevb::fuzz::mutate_copy(s.pristine_model, s.model, s.model_names, {data + 1, size - 1});
    aevb::fuzz::expect_clean([&] { aevb::load_model(s.model); });
    aevb::fuzz::expect_clean([&] { aevb::load_model_or_checkpoint(s.model); });
  }
  return 0;
}
