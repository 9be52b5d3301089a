// Data sets, BN input statistics (Chan merging), drift, recalibration and the
// audit, on the bundled models and fixture files.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <atomic>

#include <fmt/format.h>

#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"
#include "bnfold/graph/tensor_io.hpp"
#include "bnfold/analysis/analysis_model.hpp"
#include "bnfold/analysis/bn_analysis.hpp"
#include "tests/onnx_builder.hpp"

#include <stb/stb_image_write.h>

namespace fs = std::filesystem;
using namespace bnfold;
using Catch::Matchers::Contains;

namespace {

const std::string kModels = BNFOLD_MODELS_DIR;
const std::string kData = BNFOLD_TEST_DATA;

// Samples like those tiny_resnet's statistics were calibrated on (1.5 N(0,1) + 0.3),
// or the same seen by "another camera" (contrast x0.5, brightness +1).
Dataset samples(int64_t n, uint32_t seed, bool shifted) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  Tensor t(DType::Float32, {n, 3, 32, 32});
  for (int64_t i = 0; i < t.numel(); ++i) {
    const float x = 1.5f * normal(rng) + 0.3f;
    t.mutable_data_as<float>()[i] = shifted ? 0.5f * x + 1.0f : x;
  }
  return Dataset::from_tensor(t);
}

std::shared_ptr<Graph> tiny() { return std::shared_ptr<Graph>(load_onnx(kModels + "/tiny_resnet.onnx")); }

}  // namespace

TEST_CASE("data sets: .npy samples and batches, .npz stored and compressed, images", "[data]") {
  DataOptions o;
  o.sample_dims = {3, 4, 4};
  const Dataset d = Dataset::open({kData + "/samples"}, o);
  CHECK(d.size() == 1 + 2 + 1 + 2 + 3);  // a_sample, b_batch, c_stored (1 + 2), d_compressed (3)
  CHECK(d.batch(0, 1).dims() == std::vector<int64_t>{1, 3, 4, 4});
  const Tensor a = load_npy(kData + "/samples/a_sample.npy");
  CHECK(std::memcmp(d.batch(0, 1).data(), a.data(), a.nbytes()) == 0);

  DataOptions img;
  img.sample_dims = {3, 8, 6};
  img.mean = {0.5f, 0.5f, 0.5f};
  img.std = {0.5f, 0.5f, 0.5f};
  const Dataset png = Dataset::open({kData + "/image.png"}, img);
  const Tensor t = png.batch(0, 1);
  // Pixel (0,0) is RGB (147, 229, 242): channel 0 is R.
  CHECK(t.data_as<float>()[0] == Approx((147 / 255.f - 0.5f) / 0.5f));
  img.bgr = true;
  CHECK(Dataset::open({kData + "/image.png"}, img).batch(0, 1).data_as<float>()[0] == Approx((242 / 255.f - 0.5f) / 0.5f));
  // JPEG of noise is lossy (chroma subsampling): check it decodes into range.
  const Tensor j = Dataset::open({kData + "/image.jpg"}, img).batch(0, 1);
  CHECK(j.dims() == std::vector<int64_t>{1, 3, 8, 6});
  for (int64_t i = 0; i < j.numel(); ++i) CHECK(std::fabs(j.data_as<float>()[i]) <= 1.0f);
}

TEST_CASE("bad data gets a clear error", "[data][errors]") {
  DataOptions o;
  o.sample_dims = {3, 4, 4};
  test::TempDir empty;
  CHECK_THROWS_WITH(Dataset::open({empty.path()}, o), Contains("no data files in this folder"));
  CHECK_THROWS_WITH(Dataset::open({kData + "/garbage.npy"}, o), Contains("garbage.npy: not a .npy file"));
  CHECK_THROWS_WITH(Dataset::open({kData + "/wrong_dtype.npy"}, o),
                    Contains("wrong_dtype.npy: holds float64 data, the model takes float32"));
  CHECK_THROWS_WITH(Dataset::open({kData + "/wrong_shape.npy"}, o),
                    Contains("wrong_shape.npy: holds [3,5,4] but the model takes samples of [3,4,4]"));
  CHECK_THROWS_WITH(Dataset::open({kData + "/nothing_here"}, o), Contains("no such file or folder"));
}

TEST_CASE("Chan merging of shards equals one pass over all data", "[stats]") {
  auto g = tiny();
  const Dataset all = samples(24, 1, false);
  const BnInputStats one = collect_bn_input_stats(g, all, 8, 2);
  BnInputStats shards = collect_bn_input_stats(g, Dataset::from_tensor(all.batch(0, 10)), 4, 2);
  test::TempDir dir;
  collect_bn_input_stats(g, Dataset::from_tensor(all.batch(10, 14)), 5, 2).save(dir.file("s2.json"));
  shards.merge(BnInputStats::load(dir.file("s2.json")));
  REQUIRE(shards.order == one.order);
  CHECK(shards.samples == 24);
  for (const auto& name : one.order) {
    const ChannelMoments& a = one.per_bn.at(name);
    const ChannelMoments& b = shards.per_bn.at(name);
    CHECK(a.count == b.count);
    const auto va = a.variance(), vb = b.variance();
    // The merge is exact to 1e-12 (double); the activations themselves may
    // differ in float32's last bits between batch sizes 8, 4 and 5 (oneDNN
    // picks its Winograd variant per batch size), hence 1e-6.
    for (size_t c = 0; c < a.mean.size(); ++c) {
      CHECK(b.mean[c] == Approx(a.mean[c]).epsilon(1e-6).margin(1e-9));
      CHECK(vb[c] == Approx(va[c]).epsilon(1e-6));
    }
  }
}

TEST_CASE("statistics files: another version, edited, truncated, or of another model get a clear error",
          "[stats][errors]") {
  auto g = tiny();
  const BnInputStats st = collect_bn_input_stats(g, samples(8, 3, false), 4, 1);
  test::TempDir dir;
  st.save(dir.file("s.json"));
  std::ifstream in(dir.file("s.json"));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(BnInputStats::parse(text, "s.json").per_bn.size() == st.per_bn.size());
  auto edit = [&](const std::string& from, const std::string& to) {
    std::string t = text;
    const size_t at = t.find(from);
    REQUIRE(at != std::string::npos);
    return t.replace(at, from.size(), to);
  };
  // One digit of one mean changed by hand.
  const size_t mean = text.find("\"mean\":[") + 8;
  std::string edited = text;
  edited[mean + 3] = edited[mean + 3] == '1' ? '2' : '1';
  CHECK_THROWS_WITH(BnInputStats::parse(edited, "s.json"), Contains("s.json: the checksum does not match"));
  CHECK_THROWS_WITH(BnInputStats::parse(edit("\"version\":2", "\"version\":3"), "s.json"),
                    Contains("format version 3") && Contains("reads version 2"));
  CHECK_THROWS_WITH(BnInputStats::parse(edit("\"format\":\"bnfold-bn-input-stats\"", "\"format\":\"bnfold-bn-input-stats-1\""), "s.json"),
                    Contains("format version 1, which has no checksum"));
  CHECK_THROWS_WITH(BnInputStats::parse(text.substr(0, text.size() / 2), "s.json"), Contains("cut short"));
  CHECK_THROWS_WITH(BnInputStats::parse("{}", "s.json"), Contains("not a bnfold statistics file"));
  // The JSON library's own tags never reach a person.
  for (const std::string& bad : {text.substr(0, text.size() / 2), std::string("{}"), std::string("[1, 2"),
                                 edit("\"samples\":", "\"samples\":\"many\",\"x\":"), std::string()}) {
    CAPTURE(bad.substr(0, 40));
    CHECK_THROWS_WITH(BnInputStats::parse(bad, "s.json"), !Contains("json.exception") && Contains("s.json: "));
  }
  // A folder, a device and a huge file are refused before anything is read.
  CHECK_THROWS_WITH(BnInputStats::load(dir.path()), Contains("a folder, not a statistics file"));
  CHECK_THROWS_WITH(BnInputStats::load("/dev/zero"), Contains("not a regular file"));
  CHECK_THROWS_WITH(BnInputStats::load(dir.file("none.json")), Contains("no such file"));
  {
    std::ofstream big(dir.file("big.json"));
  }
  std::filesystem::resize_file(dir.file("big.json"), uintmax_t{300} << 20);  // sparse: no 300 MB written
  CHECK_THROWS_WITH(BnInputStats::load(dir.file("big.json")), Contains("more than any statistics file holds"));
  // Statistics of tiny_resnet against factory_cnn, as data and as baseline.
  auto other = std::shared_ptr<Graph>(load_onnx(kModels + "/factory_cnn.onnx"));
  CHECK_THROWS_WITH(compute_drift(*other, st), Contains("collected for another model") && Contains("signature"));
  BnInputStats mine;
  mine.order = {"x"};
  mine.per_bn["x"].add(1, {0.0}, {1.0});
  CHECK_THROWS_WITH(mine.merge(st), Contains("different BatchNormalization nodes"));
}

TEST_CASE("drift scores data from the training distribution low and shifted data high", "[drift]") {
  auto g = tiny();
  const DriftReport same = compute_drift(*g, collect_bn_input_stats(g, samples(32, 2, false), 16, 2));
  const DriftReport shifted = compute_drift(*g, collect_bn_input_stats(g, samples(32, 2, true), 16, 2));
  CHECK(same.layers.size() == 7);
  CHECK(same.max_score < 0.01);
  CHECK(shifted.max_score > 1.0);
  CHECK(shifted.layers[0].var_ratio < 0.5);  // the first BN sees the contrast change
}

TEST_CASE("sequential recalibration gives each BN the inference statistics of its input", "[recalibrate]") {
  auto g = tiny();
  const Dataset data = samples(24, 3, true);
  auto updated = clone_graph(*g);
  const RecalibrationReport r = recalibrate(*updated, data, RecalibrationMode::Sequential, 8, 2);
  CHECK(r.layers.size() == 7);
  CHECK(r.passes >= 2);
  std::shared_ptr<Graph> u(std::move(updated));
  const BnInputStats after = collect_bn_input_stats(u, data, 8, 2);
  for (const Node* n : u->nodes()) {
    if (n->op_type() != "BatchNormalization") continue;
    const ChannelMoments& m = after.per_bn.at(node_name(*n));
    const auto var = m.variance();
    for (size_t c = 0; c < m.mean.size(); ++c) {
      CHECK(n->input(3)->data().value_at(static_cast<int64_t>(c)) == Approx(m.mean[c]).epsilon(1e-4).margin(1e-5));
      CHECK(n->input(4)->data().value_at(static_cast<int64_t>(c)) == Approx(var[c]).epsilon(1e-4));
    }
  }
  CHECK(compute_drift(*u, after).max_score < 1e-6);
}

TEST_CASE("recalibration of a model without BatchNormalization is refused", "[recalibrate][errors]") {
  auto g = std::make_shared<Graph>();
  g->info.opsets[""] = 13;
  Value* x = g->add_input("x", DType::Float32, Shape::of({1, 3, 32, 32}));
  g->add_output(g->add_node("Relu", {x}, {"y"})->output(0));
  CHECK_THROWS_WITH(recalibrate(*g, samples(4, 1, false), RecalibrationMode::Sequential, 1, 1),
                    Contains("no BatchNormalization"));
  CHECK_THROWS_WITH(collect_bn_input_stats(g, samples(4, 1, false), 1, 1), Contains("no BatchNormalization"));
}

TEST_CASE("the audit: divergence shrinks with batch size, BN after Gemm degenerates at batch 1", "[audit]") {
  AuditOptions o;
  o.batch_sizes = {1, 4, 16};
  o.threads = 2;
  const AuditReport r = audit(AnalysisModel(tiny(), "tiny_resnet"), samples(16, 4, false), o);
  REQUIRE(r.divergence.size() == 3);
  CHECK(r.divergence[0].rel_l2 > r.divergence[2].rel_l2);
  for (const auto& [b, v] : r.invariance) CHECK(v < 1e-5);
  CHECK(r.fold_max_abs < 1e-5);
  CHECK(r.layers.size() == 7 * 3);  // 7 BNs at each of 3 batch sizes
  CHECK(r.layers.front().batch == 1);
  CHECK(r.layers.back().batch == 16);
  CHECK(r.ablation.size() == 7);
  CHECK(r.ablation_batch == 1);
  CHECK(r.degenerate_at_batch_1.empty());  // 32x32 spatial: never one value per channel
  CHECK_FALSE(r.verdict.empty());

  // mlp_bn: BN after Gemm sees one value per channel at batch 1.
  auto mlp = std::shared_ptr<Graph>(load_onnx(kModels + "/mlp_bn.onnx"));
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  Tensor t(DType::Float32, {8, 20});
  for (int64_t i = 0; i < t.numel(); ++i) t.mutable_data_as<float>()[i] = normal(rng);
  AuditOptions o2;
  o2.batch_sizes = {1, 8};
  const AuditReport m = audit(AnalysisModel(mlp, "mlp_bn"), Dataset::from_tensor(t), o2);
  CHECK(m.degenerate_at_batch_1.size() == 2);
  CHECK_THAT(m.verdict[0], Contains("Safe to serve at batch 1 in inference mode"));
  CHECK_THAT(m.verdict[1], Contains("to blame") && Contains("outputs beta whatever the input"));
  // Both degenerate BNs are culprits, the ablation ranks them first.
  REQUIRE(m.culprits.size() >= 2);
  for (size_t i = 0; i < 2; ++i)
    CHECK(std::find(m.degenerate_at_batch_1.begin(), m.degenerate_at_batch_1.end(), m.ablation[i].bn) !=
          m.degenerate_at_batch_1.end());
}

TEST_CASE("data sets: --resize S then the centre crop, as torchvision's Resize + CenterCrop", "[data]") {
  const fs::path dir = fs::temp_directory_path() / "bnfold_crop_test";
  fs::create_directories(dir);
  // 48 wide, 32 high: red = 5 x column, green = 7 x row; the shorter side is already 32, so no resampling.
  std::vector<unsigned char> px(48 * 32 * 3);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 48; ++x) {
      px[static_cast<size_t>((y * 48 + x) * 3)] = static_cast<unsigned char>(5 * x);
      px[static_cast<size_t>((y * 48 + x) * 3 + 1)] = static_cast<unsigned char>(7 * y);
    }
  const std::string wide = (dir / "wide.png").string();
  REQUIRE(stbi_write_png(wide.c_str(), 48, 32, 3, px.data(), 48 * 3));
  DataOptions o;
  o.sample_dims = {3, 32, 32};
  o.resize_shorter = 32;
  const Tensor t = Dataset::open({wide}, o).batch(0, 1);
  const float* p = t.data_as<float>();
  for (int x : {0, 13, 31}) CHECK(p[5 * 32 + x] == Approx(5 * (x + 8) / 255.f));  // columns 8..39 kept
  CHECK(p[32 * 32 + 9 * 32 + 3] == Approx(7 * 9 / 255.f));                         // rows all kept
  o.sample_dims = {3, 40, 40};
  o.resize_shorter = 36;  // 54 x 36: smaller than the 40 x 40 crop
  CHECK_THROWS_WITH(Dataset::open({wide}, o), Contains("smaller than the 40x40 crop"));
  fs::remove_all(dir);
}

TEST_CASE("data sets: labels from .npy and subfolders, what is not data is said", "[data][labels]") {
  const fs::path dir = fs::temp_directory_path() / "bnfold_labels_test";
  fs::remove_all(dir);
  fs::create_directories(dir / "set");
  Tensor x(DType::Float32, {4, 2});
  for (int64_t i = 0; i < 8; ++i) x.mutable_data_as<float>()[i] = static_cast<float>(i);
  Tensor y(DType::Int64, {4});
  for (int64_t i = 0; i < 4; ++i) y.mutable_data_as<int64_t>()[i] = 3 - i;
  save_npy(x, (dir / "set" / "x.npy").string());
  save_npy(y, (dir / "set" / "y.npy").string());
  DataOptions o;
  o.sample_dims = {2};
  // x.npy beside y.npy: y is skipped with a note, no labels unless asked for.
  Dataset d = Dataset::open({(dir / "set").string()}, o);
  CHECK(d.size() == 4);
  CHECK_FALSE(d.has_labels());
  REQUIRE(d.notes.size() == 1);
  CHECK_THAT(d.notes[0], Contains("y.npy: an integer array of 4 values"));
  o.labels = (dir / "set" / "y.npy").string();
  d = Dataset::open({(dir / "set").string()}, o);
  CHECK(d.labels() == std::vector<int64_t>{3, 2, 1, 0});
  // Subfolders: the class is the folder's index in sorted order.
  for (const char* c : {"b_cat", "a_dog"}) fs::create_directories(dir / "tree" / c);
  save_npy(x, (dir / "tree" / "b_cat" / "x.npy").string());
  save_npy(x, (dir / "tree" / "a_dog" / "x.npy").string());
  o.labels = "subfolders";
  d = Dataset::open({(dir / "tree").string()}, o);
  CHECK(d.labels() == std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1, 1});
  CHECK(d.class_names == std::vector<std::string>{"a_dog", "b_cat"});
  // Wrong labels: count, dtype, sign.
  Tensor short_y(DType::Int64, {3});
  save_npy(short_y, (dir / "short.npy").string());
  o.labels = (dir / "short.npy").string();
  CHECK_THROWS_WITH(Dataset::open({(dir / "set" / "x.npy").string()}, o), Contains("3 labels for 4 samples"));
  save_npy(x, (dir / "float.npy").string());
  o.labels = (dir / "float.npy").string();
  CHECK_THROWS_WITH(Dataset::open({(dir / "set" / "x.npy").string()}, o), Contains("must be integer class ids"));
  Tensor neg(DType::Int32, {4});
  neg.mutable_data_as<int32_t>()[2] = -1;
  save_npy(neg, (dir / "neg.npy").string());
  o.labels = (dir / "neg.npy").string();
  CHECK_THROWS_WITH(Dataset::open({(dir / "set" / "x.npy").string()}, o), Contains("is negative"));
  fs::remove_all(dir);
}

TEST_CASE("drift: a verdict from the noise ratio and the effect floor", "[drift]") {
  auto g = tiny();
  const BnInputStats base = collect_bn_input_stats(g, samples(64, 1, false), 16, 1);
  const BnInputStats same = collect_bn_input_stats(g, samples(64, 2, false), 16, 1);
  const BnInputStats shifted = collect_bn_input_stats(g, samples(64, 2, true), 16, 1);
  DriftOptions o;
  o.baseline = &base;
  const DriftReport in = compute_drift(*g, same, o);
  CHECK(in.verdict == DriftVerdict::InDistribution);
  CHECK(in.deciding.size() == 1);  // the layer closest to drifting
  const DriftReport out = compute_drift(*g, shifted, o);
  CHECK(out.verdict == DriftVerdict::Drifted);
  CHECK_FALSE(out.deciding.empty());
  for (const auto& l : out.layers) CHECK(l.baseline_score >= 0);
  // The ratio is distance over 2 (1/n + 1/n_baseline).
  CHECK(out.layers[0].noise == Approx(2.0 * (1 / 64.0 + 1 / 64.0)));
  CHECK(out.layers[0].ratio == Approx(out.layers[0].distance / out.layers[0].noise));
  o.min_samples = 100;
  CHECK(compute_drift(*g, shifted, o).verdict == DriftVerdict::TooFewSamples);
  // A baseline of another model is refused by name.
  BnInputStats other = base;
  other.per_bn.erase(other.per_bn.begin());
  o.min_samples = 30;
  o.baseline = &other;
  CHECK_THROWS_WITH(compute_drift(*g, shifted, o), Contains("another model"));
}

TEST_CASE("data sets stream from their files: the same statistics to the bit as in memory", "[data][stream]") {
  const fs::path dir = fs::temp_directory_path() / "bnfold_stream_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  // 40 samples in five forms: .npy batches, a stored and a deflated .npz (copied from the
  // fixtures' layout by writing them anew), a .pb, in memory.
  const Dataset all = samples(40, 9, true);
  save_npy(all.batch(0, 7), (dir / "a.npy").string());
  save_npy(all.batch(7, 13), (dir / "b.npy").string());
  save_tensor_pb(all.batch(20, 5), "x", (dir / "c.pb").string());
  for (int64_t i = 25; i < 40; ++i) save_npy(all.batch(i, 1), (dir / fmt::format("d{:02d}.npy", i)).string());
  DataOptions o;
  o.sample_dims = {3, 32, 32};
  const Dataset files = Dataset::open({dir.string()}, o);
  REQUIRE(files.size() == 40);
  // Batches that straddle files read the same bytes.
  for (auto [start, n] : {std::pair<int64_t, int64_t>{0, 40}, {5, 9}, {19, 8}, {24, 3}}) {
    const Tensor a = files.batch(start, n), b = all.batch(start, n);
    CHECK(std::memcmp(a.data(), b.data(), a.nbytes()) == 0);
  }
  auto g = tiny();
  const BnInputStats s1 = collect_bn_input_stats(g, files, 8, 2), s2 = collect_bn_input_stats(g, all, 8, 2);
  for (const auto& [bn, m] : s2.per_bn) {
    CHECK(s1.per_bn.at(bn).mean == m.mean);  // bit for bit
    CHECK(s1.per_bn.at(bn).m2 == m.m2);
  }
  // --sample-every 3 --limit 10: samples 0, 3, ..., 27.
  o.every = 3;
  o.limit = 10;
  const Dataset part = Dataset::open({dir.string()}, o);
  REQUIRE(part.size() == 10);
  for (int64_t i = 0; i < 10; ++i) {
    const Tensor a = part.batch(i, 1), b = all.batch(3 * i, 1);
    CHECK(std::memcmp(a.data(), b.data(), a.nbytes()) == 0);
  }
  CHECK_THAT(part.description, Contains("using 10 of them (every 3rd, at most 10)"));
  fs::remove_all(dir);
  // Deflated and stored .npz members read as the whole-file parser reads them.
  for (const char* name : {"c_stored.npz", "d_compressed.npz"}) {
    const std::string path = kData + "/samples/" + name;
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<char> want;
    for (const Tensor& t : parse_npz(bytes, path))
      want.insert(want.end(), static_cast<const char*>(t.data()), static_cast<const char*>(t.data()) + t.nbytes());
    DataOptions small;
    small.sample_dims = {3, 4, 4};
    const Dataset z = Dataset::open({path}, small);
    const Tensor got = z.batch(0, z.size());
    REQUIRE(got.nbytes() == want.size());
    CHECK(std::memcmp(got.data(), want.data(), want.size()) == 0);
  }
}

TEST_CASE("statistics are measured in the producer's layout: no reorder, no plain BN, the reference's numbers",
          "[stats]") {
  auto g = tiny();
  const Dataset d = samples(16, 3, true);
  SessionOptions plain, collect;
  plain.threads = collect.threads = 2;
  collect.collect_bn_stats = true;
  const std::map<std::string, Tensor> in = {{"input", d.batch(0, 8)}};
  const auto p = Session(g, plain).plan_stats(in), c = Session(g, collect).plan_stats(in);
  CHECK(c.statistics_steps == 7);
  CHECK(c.reference_steps == p.reference_steps);
  CHECK(c.reorders == p.reorders);
  CHECK(c.onednn_steps == p.onednn_steps);
  // Against the plain reference kernels' moments (computed on a plain copy).
  const BnInputStats fast = collect_bn_input_stats(g, d, 8, 2);
  SessionOptions ref = collect;
  ref.use_onednn = false;
  Session slow(g, ref);
  BnInputStats want;
  slow.run(in, [&](const BnStats& s) { want.per_bn[s.bn].add(s.count, s.mean, s.var); });
  slow.run({{"input", d.batch(8, 8)}}, [&](const BnStats& s) { want.per_bn[s.bn].add(s.count, s.mean, s.var); });
  for (const auto& [bn, m] : want.per_bn) {
    const ChannelMoments& f = fast.per_bn.at(bn);
    REQUIRE(f.count == m.count);
    const auto fv = f.variance(), mv = m.variance();
    for (size_t k = 0; k < m.mean.size(); ++k) {
      CHECK(f.mean[k] == Approx(m.mean[k]).epsilon(1e-6).margin(1e-6));
      CHECK(fv[k] == Approx(mv[k]).epsilon(1e-6));
    }
  }
}

TEST_CASE("monitoring while serving from 8 threads: outputs unchanged, a snapshot equal to drift's statistics",
          "[monitor][threads]") {
  auto g = tiny();
  const Dataset d = samples(16, 21, true);  // 4 batches of 4, each thread runs them in turn
  SessionOptions off, on;
  off.threads = on.threads = 1;
  on.monitor_every = 1;
  Session plain(g, off), watched(g, on);
  std::vector<Tensor> want;
  for (int64_t b = 0; b < 4; ++b) want.push_back(plain.run({{"input", d.batch(4 * b, 4)}}).at("output"));
  constexpr int kThreads = 8, kRuns = 100;
  std::vector<std::thread> pool;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < kThreads; ++t)
    pool.emplace_back([&, t] {
      for (int r = 0; r < kRuns; ++r) {
        const int64_t b = (t + r) % 4;
        const Tensor y = watched.run({{"input", d.batch(4 * b, 4)}}).at("output");
        if (std::memcmp(y.data(), want[static_cast<size_t>(b)].data(), y.nbytes()) != 0) ++mismatches;
      }
    });
  for (auto& th : pool) th.join();
  CHECK(mismatches == 0);
  const MonitorSnapshot snap = watched.monitor();
  CHECK(snap.runs == kThreads * kRuns);
  CHECK(snap.sampled_runs == kThreads * kRuns);
  CHECK(snap.samples == kThreads * kRuns * 4);
  // Each batch ran 200 times: the same moments as the data set once (Chan merging is exact up to rounding).
  const BnInputStats once = collect_bn_input_stats(g, d, 4, 1);
  const BnInputStats seen = stats_from_monitor(snap);
  REQUIRE(seen.order == once.order);
  for (const auto& [bn, m] : once.per_bn) {
    const ChannelMoments& s = seen.per_bn.at(bn);
    CHECK(s.count == 200 * m.count);
    const auto sv = s.variance(), mv = m.variance();
    for (size_t c = 0; c < m.mean.size(); ++c) {
      CHECK(s.mean[c] == Approx(m.mean[c]).epsilon(1e-9).margin(1e-12));
      CHECK(sv[c] == Approx(mv[c]).epsilon(1e-9));
    }
  }
  // The same verdict as drift on the same data.
  DriftOptions few;
  few.min_samples = 8;
  CHECK(compute_drift(*g, seen, few).verdict == compute_drift(*g, once, few).verdict);
  CHECK(compute_drift(*g, once, few).verdict == DriftVerdict::Drifted);
  // One run in 16.
  SessionOptions sparse = on;
  sparse.monitor_every = 16;
  Session s16(g, sparse);
  for (int r = 0; r < 160; ++r) s16.run({{"input", d.batch(0, 4)}});
  CHECK(s16.monitor().sampled_runs == 10);
  s16.reset_monitor();
  CHECK(s16.monitor().sampled_runs == 0);
}
