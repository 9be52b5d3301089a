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
