/* A C program using bnfold's C API: load, fold, run a [1, 3, 32, 32] input of
 * zeros, print the output's shape; and show what an error looks like. */
#include <bnfold/bnfold.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL.onnx\n", argv[0]);
    return 2;
  }
  bnfold_model* model = NULL;
  if (bnfold_model_load(argv[1], &model) != BNFOLD_OK) {
    fprintf(stderr, "error: %s\n", bnfold_last_error());
    return 1;
  }
  int folded = 0, total = 0;
  bnfold_model_fold(model, &folded, &total);
  printf("bnfold %s: folded %d of %d BatchNormalization\n", bnfold_version(), folded, total);

  bnfold_session* session = NULL;
  if (bnfold_session_create(model, 2, &session) != BNFOLD_OK) {
    fprintf(stderr, "error: %s\n", bnfold_last_error());
    bnfold_model_free(model);
    return 1;
  }
  float* x = calloc(3 * 32 * 32, sizeof(float));
  const int64_t dims[4] = {1, 3, 32, 32};
  bnfold_input input = {bnfold_session_input_name(session, 0), x, dims, 4};
  bnfold_outputs* outputs = NULL;
  int status = bnfold_session_run(session, &input, 1, &outputs);
  if (status == BNFOLD_OK) {
    const int64_t* d = bnfold_outputs_dims(outputs, 0);
    printf("output %s: [%lld, %lld]\n", bnfold_outputs_name(outputs, 0), (long long)d[0], (long long)d[1]);
  }
  bnfold_outputs_free(outputs);

  input.name = "no_such_input"; /* errors are statuses with a message, never exceptions */
  status = bnfold_session_run(session, &input, 1, &outputs);
  printf("wrong input name: status %d: %s\n", status, bnfold_last_error());

  free(x);
  bnfold_session_free(session);
  bnfold_model_free(model);
  return 0;
}
