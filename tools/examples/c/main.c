/* A C program using bnfold's C API: load a model, read its input's name and
 * shape, fold it, serve it with monitoring on (every 2nd run measures the BN
 * inputs' statistics), and ask whether the served data drifted; then show
 * what an error looks like. */
#include <bnfold/bnfold.h>

#include <stdio.h>
#include <stdlib.h>

static int fail(const char* what) {
  fprintf(stderr, "error: %s: %s\n", what, bnfold_last_error());
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL.onnx\n", argv[0]);
    return 2;
  }
  bnfold_model* model = NULL;
  if (bnfold_model_load(argv[1], &model) != BNFOLD_OK) return fail("load");

  /* The model says what it takes: a symbolic dim (the batch) becomes 1 here. */
  bnfold_tensor_info info;
  if (bnfold_model_input_count(model) != 1 || bnfold_model_input_info(model, 0, &info) != BNFOLD_OK ||
      !info.rank_known) {
    fprintf(stderr, "this example feeds models with one input of known rank\n");
    bnfold_model_free(model);
    return 1;
  }
  int64_t dims[8];
  size_t count = 1;
  printf("input %s: %s [", info.name, info.dtype);
  for (size_t k = 0; k < info.rank && k < 8; ++k) {
    dims[k] = info.dims[k] >= 0 ? info.dims[k] : 1;
    count *= (size_t)dims[k];
    printf("%s%s", k ? ", " : "", info.dim_params[k][0] ? info.dim_params[k] : "");
    if (!info.dim_params[k][0]) printf("%lld", (long long)info.dims[k]);
  }
  printf("]\n");

  int folded = 0, total = 0;
  if (bnfold_model_fold(model, &folded, &total) != BNFOLD_OK) return fail("fold");
  printf("bnfold %s: folded %d of %d BatchNormalization\n", bnfold_version(), folded, total);

  bnfold_session_options options;
  bnfold_session_options_init(&options);
  options.threads = 2;
  options.monitor_every = 2;
  bnfold_session* session = NULL;
  if (bnfold_session_create_with_options(model, &options, &session) != BNFOLD_OK) {
    bnfold_model_free(model);
    return fail("session");
  }
  float* x = malloc(count * sizeof(float));
  bnfold_input input = {info.name, x, dims, info.rank};
  bnfold_outputs* outputs = NULL;
  for (int run = 0; run < 4; ++run) {
    for (size_t i = 0; i < count; ++i) x[i] = (float)((i * 7919 + (size_t)run * 104729) % 1000) / 500.0f - 1.0f;
    if (bnfold_session_run(session, &input, 1, &outputs) != BNFOLD_OK) return fail("run");
    if (run == 0) {
      const int64_t* d = bnfold_outputs_dims(outputs, 0);
      printf("output %s: rank %zu, dim 0 = %lld\n", bnfold_outputs_name(outputs, 0), bnfold_outputs_rank(outputs, 0),
             (long long)d[0]);
    }
    bnfold_outputs_free(outputs);
  }
  bnfold_stats* served = NULL;
  bnfold_verdict verdict;
  if (bnfold_session_snapshot(session, &served) != BNFOLD_OK) return fail("snapshot");
  if (bnfold_drift(model, served, NULL, &verdict, NULL) != BNFOLD_OK) return fail("drift");
  printf("monitored %lld samples; verdict: %s\n", (long long)bnfold_stats_samples(served),
         verdict == BNFOLD_DRIFTED ? "drifted" : verdict == BNFOLD_TOO_FEW_SAMPLES ? "too few samples" : "in distribution");

  input.name = "no_such_input"; /* errors are statuses with a message, never exceptions */
  int status = bnfold_session_run(session, &input, 1, &outputs);
  printf("wrong input name: status %d: %s\n", status, bnfold_last_error());

  free(x);
  bnfold_stats_free(served);
  bnfold_session_free(session);
  bnfold_model_free(model);
  return 0;
}
