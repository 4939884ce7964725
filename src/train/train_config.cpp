#include "aevb/train/train_config.hpp"

#include <boost/program_options.hpp>
#include <iostream>
#include <sstream>

#include "aevb/cli/options.hpp"
#include "aevb/base/error.hpp"
#include "aevb/base/version.hpp"
#include "aevb/train/layout_advice.hpp"

namespace po = boost::program_options;

namespace aevb {
namespace {

po::options_description describe_options(TrainConfig& c) {
  po::options_description data("Data");
  data.add_options()
    ("data", po::value(&c.data_dir), "dataset directory (holds manifest.json; see aevb-data)")
    ("train-split", po::value(&c.train_split)->default_value(c.train_split), "split to train on")
    ("test-split", po::value(&c.test_split)->default_value(c.test_split), "split for the test ELBO; empty = none")
    ("valid-split", po::value(&c.valid_split)->default_value(c.valid_split),
     "split for the validation bound, evaluated with the test ELBO (e.g. valid, made by aevb-data --valid-rows); "
     "empty = none")
    ("max-train-rows", po::value(&c.max_train_rows)->default_value(c.max_train_rows), "use only the first N training rows (-1 = all)")
    ("max-test-rows", po::value(&c.max_test_rows)->default_value(c.max_test_rows), "use only the first N test rows (-1 = all)")
    ("binarize", po::value(&c.binarize)->default_value(c.binarize),
     "auto | dynamic | none. dynamic: x_bin = 1[u < x] with fresh u every step; auto follows the shard's "
     "binarization attribute (Bernoulli decoder only)")
    ("shuffle", po::value(&c.shuffle)->default_value(c.shuffle),
     "the order of the rows in each epoch, a function of (seed, epoch) only: global (a random permutation of all "
     "rows) | blocks:B,W (blocks of B contiguous rows in random order, rows shuffled within windows of W blocks: "
     "large reads for datasets beyond memory; 'blocks' = blocks:2048,32) | none (stored order)")
    ("memory-budget", po::value(&c.memory_budget)->default_value(c.memory_budget),
     "memory per rank for the data, e.g. 1GiB, 512MiB, 64KiB (a bare number is MiB): a training split that fits "
     "in half of it is held whole, a larger one is streamed from the shards in units of an eighth of it; the test "
     "split is held if it fits an eighth (docs/memory.md)");
  po::options_description model("Model");
  model.add_options()
    ("hidden", po::value(&c.hidden)->default_value(c.hidden), "hidden layer sizes of the encoder, e.g. 500 or 200,200 (decoder mirrors); none = linear")
    ("latent", po::value(&c.model.latent)->default_value(c.model.latent), "latent dimension J")
    ("activation", po::value(&c.activation)->default_value(c.activation), "tanh | relu | softplus")
    ("decoder", po::value(&c.decoder)->default_value(c.decoder), "bernoulli (binary data) | gaussian (real data)")
    ("gaussian-mean", po::value(&c.gaussian_mean)->default_value(c.gaussian_mean), "sigmoid | identity: squash the Gaussian decoder's mean into (0,1)")
    ("bayes", po::value(&c.bayes)->default_value(c.bayes),
     "map (point estimate of the decoder's weights, with the weight prior as decay) | full (variational Bayes over "
     "them, AEVB Appendix F: q(theta) = N(mu, softplus(rho)^2), prior N(0, I/weight-prior-precision), local "
     "reparameterization)")
    ("bayes-kl", po::value(&c.bayes_kl)->default_value(c.bayes_kl),
     "--bayes full: KL(q(theta) || p(theta)) in closed form (analytic) or sampled with one theta per step (sampled)")
    ("bayes-init-std", po::value(&c.bayes_init_std)->default_value(c.bayes_init_std, default_text(c.bayes_init_std)),
     "--bayes full: the initial posterior standard deviation sigma_theta of every decoder weight");
  po::options_description est("Estimator");
  est.add_options()
    ("estimator", po::value(&c.estimator)->default_value(c.estimator), "SGVB estimator: A (generic) | B (analytic KL)")
    ("samples", po::value(&c.samples)->default_value(c.samples), "L, samples of z per data point (the ELBO averages them)")
    ("objective", po::value(&c.objective)->default_value(c.objective),
     "elbo (SGVB, the AEVB paper) | iwae (importance-weighted bound of --iwae-k samples, Burda et al. 2016; uses "
     "estimator A's terms, so --estimator defaults to A)")
    ("iwae-k", po::value(&c.iwae_k)->default_value(c.iwae_k), "K, importance samples per data point of --objective iwae")
    ("batch", po::value(&c.batch)->default_value(c.batch), "M, global minibatch size (split across ranks)");
  po::options_description init("Initialization");
  init.add_options()
    ("init", po::value(&c.init)->default_value(c.init), "normal (N(0, init-std^2), AEVB paper) | glorot (uniform, IWAE paper)")
    ("init-std", po::value(&c.init_std)->default_value(c.init_std, default_text(c.init_std)), "standard deviation for --init normal")
    ("output-bias-init", po::value(&c.output_bias_init)->default_value(c.output_bias_init), "zero | mean: decoder output bias = logit of the mean training input");
  po::options_description opt("Optimizer");
  opt.add_options()
    ("optimizer", po::value(&c.optimizer)->default_value(c.optimizer), "adagrad | adam | sgd (sgd: momentum)")
    ("lr", po::value(&c.schedule.base_lr)->default_value(c.schedule.base_lr, default_text(c.schedule.base_lr)), "learning rate (base of the schedule)")
    ("lr-schedule", po::value(&c.lr_schedule)->default_value(c.lr_schedule), "constant | step | iwae (stage i: 3^i epochs at lr*10^(-i/7))")
    ("lr-step-gamma", po::value(&c.schedule.step_gamma)->default_value(c.schedule.step_gamma, default_text(c.schedule.step_gamma)), "step schedule: factor per period")
    ("lr-step-epochs", po::value(&c.schedule.step_epochs)->default_value(c.schedule.step_epochs), "step schedule: period in epochs")
    ("lr-warmup-epochs", po::value(&c.schedule.warmup_epochs)->default_value(c.schedule.warmup_epochs), "ramp the learning rate linearly from lr/steps to lr over the first N epochs (large batches; 0 = none)")
    ("adagrad-eps", po::value(&c.opt.adagrad_eps)->default_value(c.opt.adagrad_eps, default_text(c.opt.adagrad_eps)), "Adagrad epsilon")
    ("adam-beta1", po::value(&c.opt.adam_beta1)->default_value(c.opt.adam_beta1, default_text(c.opt.adam_beta1)), "Adam beta1")
    ("adam-beta2", po::value(&c.opt.adam_beta2)->default_value(c.opt.adam_beta2, default_text(c.opt.adam_beta2)), "Adam beta2")
    ("adam-eps", po::value(&c.opt.adam_eps)->default_value(c.opt.adam_eps, default_text(c.opt.adam_eps)), "Adam epsilon")
    ("momentum", po::value(&c.opt.momentum)->default_value(c.opt.momentum, default_text(c.opt.momentum)), "SGD momentum")
    ("weight-prior-precision", po::value(&c.opt.prior_precision)->default_value(c.opt.prior_precision, default_text(c.opt.prior_precision)),
     "lambda of the weight prior N(0, I/lambda) (MAP; the AEVB paper's N(0, I) is 1); 0 = none");
  po::options_description train("Training");
  train.add_options()
    ("epochs", po::value(&c.epochs)->default_value(c.epochs), "epochs to train")
    ("max-steps", po::value(&c.max_steps)->default_value(c.max_steps), "stop after this many steps in total (-1 = no limit)")
    ("seed", po::value(&c.seed)->default_value(c.seed), "seed of initialization, data order and noise")
    ("eval-seed", po::value(&c.eval_seed)->default_value(c.eval_seed), "seed of the test split's fixed binarization and the evaluation noise")
    ("eval-every", po::value(&c.eval_every)->default_value(c.eval_every), "compute the test ELBO every N epochs (0 = only at the end)")
    ("threads", po::value(&c.threads)->default_value(c.threads), "compute threads per rank");
  po::options_description out("Outputs");
  out.add_options()
    ("out", po::value(&c.out_dir)->default_value(c.out_dir), "run directory (config.ini, metrics.jsonl, model.h5, checkpoints)")
    ("metrics", po::value(&c.metrics_path), "metrics JSON lines file (default <out>/metrics.jsonl)")
    ("model-out", po::value(&c.model_path), "model file (default <out>/model.h5)")
    ("progress-every", po::value(&c.progress_every)->default_value(c.progress_every, default_text(c.progress_every)), "seconds between progress lines on stderr (0 = off)");
  const std::string reduction_help =
      "auto | allreduce | gather: how ranks combine a step's gradient: one allreduce of it, or one allgather of every "
      "row's layer inputs and deltas from which each rank forms the whole gradient (faster for small global batches); "
      "auto: gather when P > 1, --batch x (1 + samples per point) / 2 <= " + std::to_string(kGatherMaxBatch) +
      " and not --bayes full (one rank exchanges nothing either way)";
  po::options_description ckpt("Checkpoints and data parallelism");
  ckpt.add_options()
    ("checkpoint-every-steps", po::value(&c.checkpoint_every_steps)->default_value(c.checkpoint_every_steps), "checkpoint every N steps (0 = off)")
    ("watchdog-seconds", po::value(&c.watchdog_seconds)->default_value(c.watchdog_seconds, default_text(c.watchdog_seconds)),
     "end the job with a message naming the rank when a step makes no progress for this long (0 = off)")
    ("checkpoint-every-seconds", po::value(&c.checkpoint_every_seconds)->default_value(c.checkpoint_every_seconds, default_text(c.checkpoint_every_seconds)), "checkpoint every T seconds (0 = off)")
    ("keep-best", po::value(&c.keep_best)->default_value(c.keep_best),
     "on | off: keep the model with the best validation bound so far as <out>/model_best.h5 (needs --valid-split)")
    ("keep-checkpoints", po::value(&c.keep_checkpoints)->default_value(c.keep_checkpoints), "keep the newest K checkpoints")
    ("samples-every", po::value(&c.samples_every)->default_value(c.samples_every),
     "every N epochs (and after the last), 64 samples from the prior through the decoder as <out>/samples/epoch-NNNNNN.png, "
     "the same z each time so that the grids show training progress (0 = none)")
    ("resume", po::value(&c.resume)->default_value(c.resume), "auto (newest valid checkpoint in <out>/checkpoints, if any) | none | PATH")
    ("check-every", po::value(&c.check_every)->default_value(c.check_every), "compare a parameter hash across ranks every N steps (0 = off)")
    ("reduction", po::value(&c.reduction)->default_value(c.reduction), reduction_help.c_str())
    ("overlap", po::value(&c.overlap)->default_value(c.overlap), "on | off | auto: overlap the decoder-gradient allreduce with the encoder backward (P > 1, --reduction allreduce); auto: off (measured slower on one node: README, Layouts)");
  po::options_description all;
  all.add(data).add(model).add(est).add(init).add(opt).add(train).add(out).add(ckpt);
  return all;
}

// vm tells which options were given (command line or --config) rather than
// defaulted, for the checks between options.
void validate(TrainConfig& c, const po::variables_map& vm) {
  auto given = [&](const char* name) { return vm.count(name) && !vm[name].defaulted(); };
  // Ranges and words are checked by train_option_rules() as the options are read.
  if (c.data_dir.empty()) throw usage_error("--data: required (a dataset directory made by aevb-data convert)");
  if (c.out_dir.empty()) throw usage_error("--out: expected a run directory, got ''");
  c.model.hidden = ModelSpec::parse_hidden(c.hidden);
  c.model.activation = parse_activation(c.activation);
  c.model.decoder = parse_decoder(c.decoder);
  c.model.gaussian_sigmoid_mean = c.gaussian_mean == "sigmoid";
  c.model.bayes = c.bayes == "full";
  if (c.model.bayes) c.model.prior_precision = c.opt.prior_precision;
  if (!c.model.bayes) {
    for (const char* o : {"bayes-kl", "bayes-init-std"})
      if (given(o)) throw usage_error(std::string("--") + o + ": only used with --bayes full");
  } else if (!(c.opt.prior_precision > 0)) {
    throw usage_error("--bayes full: needs a proper prior over the weights, --weight-prior-precision > 0 (got 0)");
  }
  (void)c.estimator_kind();
  if (c.objective_kind() == Objective::kIwae) {
    if (given("estimator") && c.estimator != "A")
      throw usage_error("--objective iwae: weights estimator A's sampled terms; --estimator " + c.estimator +
                        " (analytic KL) does not apply, drop it or give --estimator A");
    if (given("samples") && c.samples != 1)
      throw usage_error("--objective iwae: the samples per point are --iwae-k (got --samples " +
                        std::to_string(c.samples) + "); drop --samples");
    c.estimator = "A";
  } else if (given("iwae-k")) {
    throw usage_error("--iwae-k: only used with --objective iwae (got --objective " + c.objective + ")");
  }
  c.shuffle = c.shuffle_spec().to_string();  // usage_error naming --shuffle; canonical form for checkpoints
  (void)c.memory_budget_bytes();
  c.opt.kind = parse_optimizer(c.optimizer);
  c.schedule.kind = parse_schedule(c.lr_schedule);
  (void)parse_init(c.init);
  if (c.binarize == "dynamic" && c.model.decoder != DecoderKind::kBernoulli)
    throw usage_error("--binarize dynamic: only meaningful with --decoder bernoulli");
  if (c.keep_best == "on" && c.valid_split.empty())
    throw usage_error("--keep-best on: needs a validation split (--valid-split NAME)");
  if (c.reduction == "gather" && c.model.bayes)
    throw usage_error("--reduction gather: not with --bayes full (the decoder's weights are sampled per row); use allreduce or auto");
  if (!c.valid_split.empty() && (c.valid_split == c.train_split || c.valid_split == c.test_split))
    throw usage_error("--valid-split " + c.valid_split + ": must differ from --train-split and --test-split");
  if (c.metrics_path.empty()) c.metrics_path = c.out_dir + "/metrics.jsonl";
  if (c.model_path.empty()) c.model_path = c.out_dir + "/model.h5";
}

}  // namespace

const OptionRules& train_option_rules() {
  using R = OptionRule;
  static const OptionRules rules = {
      R::integer("max-train-rows").ge(1).or_value(-1, "all"),
      R::integer("max-test-rows").ge(1).or_value(-1, "all"),
      R::words("binarize", {"auto", "dynamic", "none"}),
      R::integer("latent").ge(1).le(1 << 20),
      R::words("activation", {"tanh", "relu", "softplus"}),
      R::words("decoder", {"bernoulli", "gaussian"}),
      R::words("gaussian-mean", {"sigmoid", "identity"}),
      R::words("bayes", {"map", "full"}),
      R::words("bayes-kl", {"analytic", "sampled"}),
      R::real("bayes-init-std").gt(0).le(10),
      R::words("estimator", {"A", "B"}),
      R::integer("samples").ge(1).lt(1 << 24),  // the noise key's sample field (base/rng.hpp)
      R::words("objective", {"elbo", "iwae"}),
      R::integer("iwae-k").ge(1).lt(1 << 24),
      R::integer("batch").ge(1),
      R::words("init", {"normal", "glorot"}),
      R::real("init-std").gt(0),
      R::words("output-bias-init", {"zero", "mean"}),
      R::words("optimizer", {"adagrad", "adam", "sgd"}),
      R::real("lr").gt(0),
      R::words("lr-schedule", {"constant", "step", "iwae"}),
      R::real("lr-step-gamma").gt(0).le(1),
      R::integer("lr-step-epochs").ge(1),
      R::integer("lr-warmup-epochs").ge(0).le(1000000),
      R::real("adagrad-eps").gt(0),
      R::real("adam-beta1").ge(0).lt(1),
      R::real("adam-beta2").ge(0).lt(1),
      R::real("adam-eps").gt(0),
      R::real("momentum").ge(0).lt(1),
      R::real("weight-prior-precision").ge(0),
      R::integer("epochs").ge(0),
      R::integer("max-steps").ge(1).or_value(-1, "no limit"),
      R::integer("seed").ge(0),
      R::integer("eval-seed").ge(0),
      R::integer("eval-every").ge(0),
      R::integer("threads").ge(1).le(1024),
      R::real("progress-every").ge(0),
      R::integer("checkpoint-every-steps").ge(0),
      R::real("checkpoint-every-seconds").ge(0),
      R::real("watchdog-seconds").ge(0),
      R::integer("keep-checkpoints").ge(1),
      R::integer("samples-every").ge(0).le(1000000),
      R::words("keep-best", {"on", "off"}),
      R::integer("check-every").ge(0),
      R::words("reduction", {"auto", "allreduce", "gather"}),
      R::words("overlap", {"on", "off", "auto"}),
  };
  return rules;
}

bool parse_train_config(int argc, char** argv, TrainConfig& c, bool print_help) {
  po::options_description all = describe_options(c);
  po::options_description generic("General");
  std::string config_file;
  generic.add_options()("help,h", "print this help and exit")("version", "print the version and exit")("config", po::value(&config_file),
                                                               "INI file with any of the options below (command line wins)");
  po::options_description cmdline;
  cmdline.add(generic).add(all);
  po::variables_map vm;
  try {
    po::store(parse_last_wins(argc, argv, cmdline, train_option_rules()), vm);
    if (vm.count("version")) {
      if (print_help) std::cout << "aevb-train " << version() << std::endl;
      return false;
    }
    if (vm.count("help")) {
      if (print_help) {
        std::cout << "aevb-train: train a variational autoencoder with SGVB (Kingma & Welling), data-parallel over MPI.\n\n"
                     "Usage: [mpirun -np P] aevb-train --data DIR [options]\n"
                  << cmdline
                  << "\nExit codes: 0 done, 2 bad option, 3 bad input file, 4 cannot write outputs (or the run\n"
                     "directory is locked by another run), 5 diverged (NaN/Inf), 6 no progress for --watchdog-seconds,\n"
                     "75 stopped by SIGINT/SIGTERM/SIGUSR1 with a checkpoint (run again to resume), 1 internal error.\n"
                     "Option ranges: docs/options.md.\n"
                     "An option given twice: the last one wins. The last line on stdout is a JSON summary.\n";
      }
      return false;
    }
    if (vm.count("config")) store_config_file(vm["config"].as<std::string>(), all, train_option_rules(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw usage_error(e.what());
  }
  validate(c, vm);
  return true;
}

bool TrainConfig::use_gather(int ranks) const {
  if (ranks == 1) return false;  // nothing to exchange: the allreduce of one rank is a no-op
  if (reduction == "gather") return true;
  if (reduction == "allreduce") return false;
  return ranks > 1 && !model.bayes && gather_pays(batch, samples_per_point());
}

int64_t TrainConfig::memory_budget_bytes() const { return parse_byte_size("memory-budget", memory_budget); }

std::string TrainConfig::to_ini() const {
  std::ostringstream s;
  s.precision(9);
  s << "# aevb-train effective configuration\n"
    << "data = " << data_dir << "\ntrain-split = " << train_split << "\ntest-split = " << test_split
    << "\nvalid-split = " << valid_split
    << "\nmax-train-rows = " << max_train_rows << "\nmax-test-rows = " << max_test_rows << "\nbinarize = " << binarize
    << "\nshuffle = " << shuffle << "\nmemory-budget = " << memory_budget
    << "\nhidden = " << hidden << "\nlatent = " << model.latent << "\nactivation = " << activation
    << "\ndecoder = " << decoder << "\ngaussian-mean = " << gaussian_mean << "\nbayes = " << bayes
    << (bayes == "full" ? "\nbayes-kl = " + bayes_kl + "\nbayes-init-std = " + default_text(bayes_init_std) : std::string()) << "\nestimator = " << estimator
    << "\nsamples = " << samples << "\nobjective = " << objective
    << (objective == "iwae" ? "\niwae-k = " + std::to_string(iwae_k) : std::string()) << "\nbatch = " << batch << "\ninit = " << init << "\ninit-std = " << default_text(init_std)
    << "\noutput-bias-init = " << output_bias_init << "\noptimizer = " << optimizer << "\nlr = " << default_text(schedule.base_lr)
    << "\nlr-schedule = " << lr_schedule << "\nlr-step-gamma = " << default_text(schedule.step_gamma)
    << "\nlr-step-epochs = " << schedule.step_epochs << "\nlr-warmup-epochs = " << schedule.warmup_epochs << "\nadagrad-eps = " << default_text(opt.adagrad_eps)
    << "\nadam-beta1 = " << default_text(opt.adam_beta1) << "\nadam-beta2 = " << default_text(opt.adam_beta2) << "\nadam-eps = " << default_text(opt.adam_eps)
    << "\nmomentum = " << default_text(opt.momentum) << "\nweight-prior-precision = " << default_text(opt.prior_precision)
    << "\nepochs = " << epochs << "\nmax-steps = " << max_steps << "\nseed = " << seed << "\neval-seed = " << eval_seed
    << "\neval-every = " << eval_every << "\nthreads = " << threads << "\nout = " << out_dir
    << "\nmetrics = " << metrics_path << "\nmodel-out = " << model_path << "\nprogress-every = " << default_text(progress_every)
    << "\ncheckpoint-every-steps = " << checkpoint_every_steps
    << "\ncheckpoint-every-seconds = " << default_text(checkpoint_every_seconds) << "\nwatchdog-seconds = " << default_text(watchdog_seconds) << "\nkeep-checkpoints = " << keep_checkpoints << "\nsamples-every = " << samples_every << "\nkeep-best = " << keep_best
    << "\nresume = " << resume << "\ncheck-every = " << check_every << "\nreduction = " << reduction << "\noverlap = " << overlap << "\n";
  return s.str();
}

}  // namespace aevb
