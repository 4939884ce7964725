// Model files (HDF5, format "aevb-model" version 1): the architecture, the flat
// parameter buffer, and the configuration that produced it. Written by
// aevb-train, read by aevb-eval and by tools like h5py:
//
//   /params                     float32 [P]   the flat parameter buffer
//     attrs block_names, block_offsets, block_rows, block_cols
//                               where each weight/bias block lives in /params
//   root attrs: format, format_version, x_dim, hidden (int64[]), latent,
//     activation, decoder, gaussian_mean, row_shape, data_scale, dataset,
//     binarization, step, epoch, params_sha256, config_ini, created_by
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "aevb/core/vae.hpp"

namespace aevb {

struct ModelMeta {
  std::vector<int64_t> row_shape;  // of one data point, e.g. {28, 28}
  double data_scale = 1;
  std::string dataset, binarization, config_ini;
  int64_t step = 0, epoch = 0;
  // N, the training rows (attribute train_rows; 0 when a file of an earlier
  // release lacks it): a Bayesian model's bound per point subtracts KL / N.
  int64_t train_rows = 0;
  // A model kept by --keep-best: the split it was selected on and its bound
  // there (per point); written as attributes selected_on / selected_bound.
  std::string selected_on;
  double selected_bound = 0;
  // Filled by the loaders only (save_model computes its own): what was read.
  std::string format;         // "aevb-model" or "aevb-checkpoint"
  std::string params_sha256;  // the file's checksum attribute (verified)
};

// Architecture attributes shared by model files and checkpoints.
void write_model_spec(int64_t loc, const ModelSpec& s);
ModelSpec read_model_spec(int64_t loc, const std::string& path);  // input_error on unknown values

// What model files and checkpoints share: format and format_version, the
// architecture, /params with its block layout attributes, params_sha256.
// Checks that dataset `name` of loc is 1-D with exactly `n` values before it is
// read (a declared shape costs nothing to write but its size to read):
// input_error "PATH: /NAME has ... values but the architecture needs n".
void check_param_count(int64_t loc, const std::string& name, int64_t n, const std::string& path);

void write_model_core(int64_t root, const std::string& format, int64_t version, const Vae& m);

void save_model(const std::string& path, const Vae& m, const ModelMeta& meta);

struct LoadedModel {
  std::unique_ptr<Vae> model;
  ModelMeta meta;
};
// Reads and checks a model file (format, version, parameter count against the
// architecture, checksum); input_error naming the file and what is wrong.
LoadedModel load_model(const std::string& path);
// For tools that evaluate a model at any point of training (aevb-eval): accepts
// a final model file or a training checkpoint (format "aevb-checkpoint": the
// same architecture attributes, /params and params_sha256; the data attributes
// of a model file are read when present, else left empty / 0).
LoadedModel load_model_or_checkpoint(const std::string& path);

}  // namespace aevb
