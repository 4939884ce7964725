// Counter-based randomness (Random123 Philox4x32-10).
//
// Every random number in aevb is a pure function of
//   (seed, purpose, step, global sample index, sample number, element)
// so the noise a data point receives does not depend on which rank, batch or
// batch position handles it. That is what makes runs reproducible across rank
// counts and makes a resumed run bit-identical to one that never stopped.
//
// Counter layout (4 x 32 bits):  c0 = element block (element / 4)
//                                c1 = low 32 bits of the global sample index
//                                c2 = low 32 bits of the step
//                                c3 = purpose << 24 | sample number (< 2^24)
// Key (2 x 32 bits): the 64-bit seed. Each Philox call yields 4 words: 4 uniforms
// or 4 normals (two Box-Muller pairs), element j uses word j % 4 of block j / 4.
#pragma once
#include <cstdint>
#include <vector>

namespace aevb {

enum class Purpose : uint32_t {
  kInit = 1,            // parameter initialization (index = parameter block)
  kPermutation = 2,     // per-epoch data order (step = epoch)
  kLatentNoise = 3,     // eps of z = mu + sigma * eps during training
  kBinarize = 4,        // dynamic binarization during training
  kEvalLatentNoise = 5, // eps for ELBO evaluation (fixed step, comparable epochs)
  kEvalBinarize = 6,    // fixed binarization of an evaluation split
  kImportance = 7,      // importance-sampling proposals in the evaluator
  kPriorSample = 8,     // z ~ p(z) (naive Monte Carlo estimator, sampling)
  kBlockOrder = 9,      // --shuffle blocks: the order of the blocks (step = epoch)
  kWindowOrder = 13,    // --shuffle blocks: rows inside a window (step = epoch, sample = window)
  kWeightNoise = 14,    // full VB: the decoder's pre-activation noise (local reparameterization)
  kWeightKl = 15,       // full VB: the theta sample of the sampled KL(q(theta) || p(theta)) (index 0)
  kThetaSample = 16,    // full VB, aevb-eval: theta_s ~ q(theta) of the predictive (step = s)
  // aevb-eval's MCMC estimators (core/hmc.hpp, core/ais.hpp); index = global point,
  // sample = chain, step = transition (or iteration) number:
  kHmcMomentum = 17,    // the momentum drawn at the start of each HMC transition
  kHmcAccept = 18,      // the uniform of each Metropolis accept test (element 0)
  kMcmcStart = 19,      // the chains' starting points, z ~ q(z|x) or p(z) (step 0); their resampling by AIS weight (step 1)
  kMixtureInit = 20,    // the Appendix D estimator: k-means++ seeding of the mixture fit by EM
  kSimulate = 21,       // BDMC: simulated data, z ~ p(z) (step 0) and x ~ p(x|z) (step 1)
  // aevb-infer (core/model_use.hpp, core/conditional.hpp); index = global point:
  kInferSample = 22,    // sample: z ~ p(z) (step 0, index = sample) and binary x ~ p(x|z) (step 1)
  kEncodeSample = 23,   // encode --z-samples: z ~ q(z|x) (sample = s)
  kInpaint = 24,        // the samplers: proposal eps (step 3t), accept uniform (3t+1), x_miss draw (3t+2)
  kConditional = 25,    // importance sampling of log p(x_S): step chosen by the caller, sample = k
  kCorrupt = 26,        // denoise: the corruption of the clean point (flips or Gaussian noise)
  kMask = 27,           // inpaint --mask random: which pixels are missing
  // Data preparation (aevb-data), never used at training time:
  kDataSplit = 10,      // which training-file rows become the "valid" split (step 0)
  kStaticBinarize = 11, // static binarization (step = source stream, index = source row)
  kDataShuffle = 12,    // --shuffle-seed row order of a converter (step = source file)
};

struct NoiseKey {
  uint64_t seed = 0;
  Purpose purpose = Purpose::kLatentNoise;
  uint64_t step = 0;
  uint64_t index = 0;   // global sample index (or parameter block for kInit)
  uint32_t sample = 0;  // sample number l in 0..L-1 (or k for importance sampling)
};

// n standard normals for this key, element j = out[j].
void normals(const NoiseKey& key, float* out, int64_t n);
// n uniforms in [0, 1) (24-bit resolution), element j = out[j].
void uniforms(const NoiseKey& key, float* out, int64_t n);
// Dynamic binarization: out[j] = (u_j < x[j]) ? 1 : 0, so P(out=1) = x exactly.
// out may be x (in place).
void binarize(const NoiseKey& key, const float* x, float* out, int64_t n);
// The raw Philox words of element blocks 0..nblocks-1 (word j of block b at
// out[4 b + j]): the vectorized generator every function above uses, and
// Random123's scalar philox4x32 that it must equal bit for bit (tests).
void philox_words(const NoiseKey& key, uint32_t* out, int64_t nblocks);
void philox_words_reference(const NoiseKey& key, uint32_t* out, int64_t nblocks);
// A uniformly random permutation of 0..n-1 derived from (seed, epoch) alone:
// every rank computes the same one.
std::vector<int64_t> permutation(uint64_t seed, uint64_t epoch, int64_t n);
// The same Fisher-Yates construction for any purpose: swap i (i = n-1 .. 1) uses
// the first two words of the block keyed {seed, purpose, step, index = i, sample 0}
// as a 64-bit draw u, j = u % (i + 1). permutation(seed, epoch, n) above is
// permutation(seed, Purpose::kPermutation, epoch, n). Needs n < 2^32.
std::vector<int64_t> permutation(uint64_t seed, Purpose purpose, uint64_t step, int64_t n);
// The same permutation in 32-bit entries (half the memory: the data order of a
// 20-million-row split is 80 MB), keyed by `key` with key.index ignored (it
// numbers the swaps). permutation(s, p, t, n) equals permutation32({s, p, t, 0, 0}, n).
void permutation32(const NoiseKey& key, int64_t n, std::vector<uint32_t>& out);

}  // namespace aevb
