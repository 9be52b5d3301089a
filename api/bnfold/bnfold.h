/* bnfold's C API: opaque handles and status codes, no exceptions across the
 * boundary, so that other languages can bind. Every call returns a status;
 * bnfold_last_error() gives the message of the calling thread's last failed
 * call. Handles are freed with their _free function (NULL is accepted).
 * Thread-safety: a session may be run from several threads at once; a model
 * must not be folded while another thread uses it. */
#ifndef BNFOLD_H
#define BNFOLD_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) && !defined(BNFOLD_STATIC)
#define BNFOLD_C_API __attribute__((visibility("default")))
#else
#define BNFOLD_C_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  BNFOLD_OK = 0,
  BNFOLD_INVALID_MODEL = 1,
  BNFOLD_UNSUPPORTED = 2,
  BNFOLD_INVALID_ARGUMENT = 3,
  BNFOLD_IO_ERROR = 4,
  BNFOLD_INTERNAL_ERROR = 5,
  BNFOLD_RESOURCE_LIMIT = 6 /* the memory limit (or the system) refused an allocation */
} bnfold_status;

typedef struct bnfold_model bnfold_model;
typedef struct bnfold_session bnfold_session;
typedef struct bnfold_outputs bnfold_outputs;

/* One float32 input tensor, row-major; read in place during bnfold_session_run. */
typedef struct {
  const char* name;
  const float* data;
  const int64_t* dims;
  size_t rank;
} bnfold_input;

BNFOLD_C_API const char* bnfold_version(void);
BNFOLD_C_API const char* bnfold_last_error(void);

BNFOLD_C_API bnfold_status bnfold_model_load(const char* path, bnfold_model** out);
BNFOLD_C_API bnfold_status bnfold_model_load_bytes(const void* data, size_t size, bnfold_model** out);
/* Folds every BatchNormalization that folds exactly; counts may be NULL. */
BNFOLD_C_API bnfold_status bnfold_model_fold(bnfold_model* model, int* folded, int* total);
BNFOLD_C_API bnfold_status bnfold_model_save(const bnfold_model* model, const char* path);
BNFOLD_C_API void bnfold_model_free(bnfold_model* model);

/* A session runs a copy of the model; threads = 0: one per core. */
BNFOLD_C_API bnfold_status bnfold_session_create(const bnfold_model* model, int threads, bnfold_session** out);
BNFOLD_C_API size_t bnfold_session_input_count(const bnfold_session* session);
BNFOLD_C_API const char* bnfold_session_input_name(const bnfold_session* session, size_t index);
BNFOLD_C_API bnfold_status bnfold_session_run(bnfold_session* session, const bnfold_input* inputs, size_t count,
                                              bnfold_outputs** out);
BNFOLD_C_API void bnfold_session_free(bnfold_session* session);

/* ---- Describing a model: names, dtypes and dims of its inputs and outputs ---- */

/* Valid while the model (or session) it came from lives. */
typedef struct {
  const char* name;
  const char* dtype;               /* "float32", "int64", ... */
  int rank_known;                  /* 0: the model does not say its rank (rank and dims are 0 and NULL) */
  size_t rank;
  const int64_t* dims;             /* per dim; -1 where symbolic or unknown */
  const char* const* dim_params;   /* per dim: the symbol ("N", "batch") or "" */
} bnfold_tensor_info;

/* The inputs a run must feed (initializers that double as inputs are not
 * counted) and the outputs, in the model's order. */
BNFOLD_C_API size_t bnfold_model_input_count(const bnfold_model* model);
BNFOLD_C_API size_t bnfold_model_output_count(const bnfold_model* model);
BNFOLD_C_API bnfold_status bnfold_model_input_info(const bnfold_model* model, size_t index, bnfold_tensor_info* out);
BNFOLD_C_API bnfold_status bnfold_model_output_info(const bnfold_model* model, size_t index, bnfold_tensor_info* out);
BNFOLD_C_API size_t bnfold_session_output_count(const bnfold_session* session);
BNFOLD_C_API bnfold_status bnfold_session_input_info(const bnfold_session* session, size_t index,
                                                     bnfold_tensor_info* out);
BNFOLD_C_API bnfold_status bnfold_session_output_info(const bnfold_session* session, size_t index,
                                                      bnfold_tensor_info* out);

/* ---- Session options ---- */

typedef enum {
  BNFOLD_BN_INFERENCE = 0,        /* BNs normalize with the running statistics in the model */
  BNFOLD_BN_BATCH_STATISTICS = 1  /* with the current batch's, as a model left in train mode */
} bnfold_bn_mode;

typedef enum {
  BNFOLD_PRECISION_FP32 = 0, /* every kernel in float32 */
  BNFOLD_PRECISION_BF16 = 1  /* convolutions, Gemm, MatMul in bfloat16 (f32 accumulation), f32 inputs/outputs */
} bnfold_precision;

/* 1 when this CPU runs bfloat16 kernels natively (AVX512-BF16 or AMX), else 0. */
BNFOLD_C_API int bnfold_bfloat16_supported(void);

/* Set struct_size to sizeof(bnfold_session_options) (bnfold_session_options_init
 * does): fields a newer bnfold adds go at the end, and a caller built against
 * this header keeps working, the new fields taking their defaults. */
typedef struct {
  size_t struct_size;
  int threads;              /* 0: one per core */
  int bn_mode;              /* a bnfold_bn_mode (an int: a value from a newer header stays defined) */
  int64_t monitor_every;    /* 0: off; K: every K-th run measures every BN input's statistics (outputs unchanged) */
  int reference_kernels;    /* 1: the plain reference kernels instead of oneDNN (slow; an oracle) */
  int direct_convolution;   /* 1: no Winograd kernels for 3x3 convolutions (SessionOptions::winograd = false) */
  int precision;            /* a bnfold_precision: BNFOLD_PRECISION_BF16 needs a CPU with AVX512-BF16 or AMX */
} bnfold_session_options;

BNFOLD_C_API void bnfold_session_options_init(bnfold_session_options* options);
BNFOLD_C_API bnfold_status bnfold_session_create_with_options(const bnfold_model* model,
                                                              const bnfold_session_options* options,
                                                              bnfold_session** out);

/* ---- Reports: JSON text, the keys of the CLI's --json (docs/cli.md) ---- */

BNFOLD_C_API void bnfold_string_free(char* text);
/* `bnfold inspect --json`: inputs, outputs, opsets, op counts, parameters, every BN as a fold sees it. */
BNFOLD_C_API bnfold_status bnfold_model_inspect(const bnfold_model* model, char** report_json);
/* Does `folded` compute what `original` does within float32 noise (random data-like inputs,
 * measured against the original in float64)? *ok: 1 or 0; report_json (`bnfold verify --json`) may be NULL. */
BNFOLD_C_API bnfold_status bnfold_verify(const bnfold_model* original, const bnfold_model* folded, int* ok,
                                         char** report_json);
/* Runs the inputs `iterations` (>= 1) times timing every step (`bnfold bench --per-op`); *report_json: a JSON
 * list of {"step", "node", "implementation", "ms", "flops"}. */
BNFOLD_C_API bnfold_status bnfold_session_profile(bnfold_session* session, const bnfold_input* inputs, size_t count,
                                                  int iterations, char** report_json);
/* Folds in place like bnfold_model_fold; *report_json: `bnfold fold --json`'s report. */
BNFOLD_C_API bnfold_status bnfold_model_fold_report(bnfold_model* model, char** report_json);

/* ---- BN input statistics: collect, monitor, merge, save, load ---- */

typedef struct bnfold_stats bnfold_stats;
typedef struct bnfold_stats_collector bnfold_stats_collector;

/* What a session with monitor_every > 0 measured so far (fails when no run was measured). */
BNFOLD_C_API bnfold_status bnfold_session_snapshot(const bnfold_session* session, bnfold_stats** out);
BNFOLD_C_API bnfold_status bnfold_session_monitor_counts(const bnfold_session* session, int64_t* runs,
                                                         int64_t* sampled_runs);
BNFOLD_C_API bnfold_status bnfold_session_reset_monitor(bnfold_session* session);

/* Statistics of data files (folders, .npy/.npz/.pb, images; as the CLI's -d), in batches of `batch`
 * samples (0: 32; negative: BNFOLD_INVALID_ARGUMENT). */
BNFOLD_C_API bnfold_status bnfold_stats_collect_files(const bnfold_model* model, const char* const* paths,
                                                      size_t count, int64_t batch, int threads,
                                                      bnfold_stats** out);
/* Statistics of batches the caller feeds: float32 [N, ...] for the model's one input. */
BNFOLD_C_API bnfold_status bnfold_stats_collector_create(const bnfold_model* model, int threads,
                                                         bnfold_stats_collector** out);
BNFOLD_C_API bnfold_status bnfold_stats_collector_add(bnfold_stats_collector* collector, const float* data,
                                                      const int64_t* dims, size_t rank);
BNFOLD_C_API bnfold_status bnfold_stats_collector_result(const bnfold_stats_collector* collector,
                                                         bnfold_stats** out);
BNFOLD_C_API void bnfold_stats_collector_free(bnfold_stats_collector* collector);

/* The file of `bnfold drift --save-stats` (checksummed; refused when edited or of another version). */
BNFOLD_C_API bnfold_status bnfold_stats_load(const char* path, bnfold_stats** out);
BNFOLD_C_API bnfold_status bnfold_stats_save(const bnfold_stats* stats, const char* path);
/* Adds `other` into `into` (statistics of the same model's BNs; exact, Chan's formula). */
BNFOLD_C_API bnfold_status bnfold_stats_merge(bnfold_stats* into, const bnfold_stats* other);
BNFOLD_C_API int64_t bnfold_stats_samples(const bnfold_stats* stats);
BNFOLD_C_API void bnfold_stats_free(bnfold_stats* stats);

/* ---- Drift, recalibration, audit ---- */

typedef enum { BNFOLD_IN_DISTRIBUTION = 0, BNFOLD_DRIFTED = 1, BNFOLD_TOO_FEW_SAMPLES = 2 } bnfold_verdict;

/* Has the data behind `stats` left what the model's BNs learned? Against the
 * running statistics, or against `baseline` (may be NULL). verdict and
 * report_json (`bnfold drift --json`) may be NULL. */
BNFOLD_C_API bnfold_status bnfold_drift(const bnfold_model* model, const bnfold_stats* stats,
                                        const bnfold_stats* baseline, bnfold_verdict* verdict,
                                        char** report_json);
/* Sets every BN's running statistics from `stats` (update-bn semantics) in
 * place; unbiased_var: n/(n-1) as PyTorch's running_var. report_json (`bnfold
 * recalibrate --json`) may be NULL. */
BNFOLD_C_API bnfold_status bnfold_model_recalibrate(bnfold_model* model, const bnfold_stats* stats, int unbiased_var,
                                                    char** report_json);
/* bnfold_model_recalibrate, mixing instead of replacing: the model's
 * statistics count as `prior` pseudo-samples beside the statistics' samples
 * (`bnfold recalibrate --prior`); prior 0 is bnfold_model_recalibrate. */
BNFOLD_C_API bnfold_status bnfold_model_recalibrate_prior(bnfold_model* model, const bnfold_stats* stats,
                                                          double prior, int unbiased_var, char** report_json);
/* The same from data files, re-estimated layer by layer (`bnfold recalibrate`'s sequential mode)
 * or in one pass (update_bn = 1). */
BNFOLD_C_API bnfold_status bnfold_model_recalibrate_files(bnfold_model* model, const char* const* paths, size_t count,
                                                          int update_bn, int threads, char** report_json);
/* Train mode vs inference mode at batch sizes 1, 2, 4, 8, 32 on data files;
 * *report_json: `bnfold audit --json`. */
BNFOLD_C_API bnfold_status bnfold_audit_files(const bnfold_model* model, const char* const* paths, size_t count,
                                              int threads, char** report_json);
/* The shift study (`bnfold shift-study`) on data files: accuracy under
 * synthetic corruptions, drift's warnings, what recalibration recovers.
 * labels: a .npy/.npz of class ids, "subfolders", or NULL (agreement with the
 * clean predictions instead of accuracy). options_json: NULL for the defaults,
 * or an object with any of "families" (names), "severities" (1-5),
 * "recalibrate_on" (sample counts k), "prior", "seed", "pixel_range" ([lo, hi]),
 * "max_drop" (a share), "threshold", "min_effect", "batch", "limit";
 * *report_json: `bnfold shift-study --json`. */
BNFOLD_C_API bnfold_status bnfold_shift_study_files(const bnfold_model* model, const char* const* paths, size_t count,
                                                    const char* labels, const char* options_json, int threads,
                                                    char** report_json);

/* `bnfold quantize`: an int8 QDQ model of `model` written to out_path (folded
 * first). With data paths (count > 0), activation ranges come from them and
 * the int8 model is compared with the float one (with labels: accuracy);
 * without, from the folded BNs and options_json's "input_range" ([lo, hi]).
 * options_json (NULL: defaults): "input_range", "equalize", "bias_correction"
 * (booleans), "batch", "check_samples"; *report_json: `bnfold quantize --json`. */
BNFOLD_C_API bnfold_status bnfold_quantize_files(const bnfold_model* model, const char* const* paths, size_t count,
                                                 const char* labels, const char* options_json, const char* out_path,
                                                 int threads, char** report_json);

/* `bnfold verify` judging a precision: `candidate` (an int8 QDQ model, or
 * `model` itself) run in `precision` (a bnfold_precision) against `model` in
 * float32, on data paths (count > 0; with labels: the accuracy lost) or on
 * random data-like inputs. options_json (NULL: defaults): "samples", "batch",
 * "max_accuracy_drop" (a share: 0.01 is a point), "max_relative_error",
 * "float64_reference" (boolean), "seed"; *report_json: `bnfold verify --json`
 * in precision mode. BNFOLD_OK when it was judged: whether it passed is the
 * report's "ok". */
BNFOLD_C_API bnfold_status bnfold_check_precision_files(const bnfold_model* model, const bnfold_model* candidate,
                                                        int precision, const char* const* paths, size_t count,
                                                        const char* labels, const char* options_json, int threads,
                                                        char** report_json);

BNFOLD_C_API size_t bnfold_outputs_count(const bnfold_outputs* outputs);
BNFOLD_C_API const char* bnfold_outputs_name(const bnfold_outputs* outputs, size_t index);
BNFOLD_C_API size_t bnfold_outputs_rank(const bnfold_outputs* outputs, size_t index);
BNFOLD_C_API const int64_t* bnfold_outputs_dims(const bnfold_outputs* outputs, size_t index);
/* NULL when the output is not float32. */
BNFOLD_C_API const float* bnfold_outputs_data(const bnfold_outputs* outputs, size_t index);
BNFOLD_C_API void bnfold_outputs_free(bnfold_outputs* outputs);

#ifdef __cplusplus
}
#endif

#endif
