// Times Pinocchio's C++ algorithms the same way `embody model bench` times ours: batches
// of calls cycling through the same states, each batch about 100 us, the median over
// samples. Reads a model saved by Pinocchio's saveToBinary and a plain-text state file
// (count nq nv, then q v a per state). Prints one JSON object.
//
// Built and run by scripts/bench_pinocchio.sh; not part of the Rust build.
#include <pinocchio/multibody.hpp>
#include <pinocchio/serialization.hpp>
#include <pinocchio/algorithm/aba.hpp>
#include <pinocchio/algorithm/crba.hpp>
#include <pinocchio/algorithm/jacobian.hpp>
#include <pinocchio/algorithm/kinematics.hpp>
#include <pinocchio/algorithm/rnea.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <vector>

using Clock = std::chrono::steady_clock;

static double median_ns(std::size_t samples, std::size_t n_states, const std::function<void(std::size_t)> &call) {
  std::size_t next = 0;
  auto run = [&](std::size_t count) {
    auto start = Clock::now();
    for (std::size_t k = 0; k < count; ++k) {
      call(next);
      next = (next + 1) % n_states;
    }
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  run(n_states * 4);
  std::size_t batch = 1;
  while (run(batch) < 100e-6 && batch < (1u << 24)) batch *= 2;
  std::vector<double> per_call;
  for (std::size_t s = 0; s < samples; ++s) per_call.push_back(run(batch) * 1e9 / double(batch));
  std::sort(per_call.begin(), per_call.end());
  return per_call[per_call.size() / 2];
}

int main(int argc, char **argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s MODEL.bin STATES.txt SAMPLES\n", argv[0]);
    return 2;
  }
  pinocchio::Model model;
  model.loadFromBinary(argv[1]);
  pinocchio::Data data(model);
  std::ifstream in(argv[2]);
  std::size_t count, nq, nv;
  in >> count >> nq >> nv;
  if (!in || nq != std::size_t(model.nq) || nv != std::size_t(model.nv)) {
    std::fprintf(stderr, "state file does not match the model\n");
    return 2;
  }
  std::vector<Eigen::VectorXd> q(count, Eigen::VectorXd(nq)), v(count, Eigen::VectorXd(nv)), a(count, Eigen::VectorXd(nv));
  for (std::size_t s = 0; s < count; ++s) {
    for (std::size_t k = 0; k < nq; ++k) in >> q[s][k];
    for (std::size_t k = 0; k < nv; ++k) in >> v[s][k];
    for (std::size_t k = 0; k < nv; ++k) in >> a[s][k];
  }
  const std::size_t samples = std::strtoul(argv[3], nullptr, 10);
  using pinocchio::Convention;
  // ABA and CRBA take a frame convention; the faster of the two is Pinocchio's figure.
  const double fk = median_ns(samples, count, [&](std::size_t i) { pinocchio::forwardKinematics(model, data, q[i]); });
  const double jac = median_ns(samples, count, [&](std::size_t i) { pinocchio::computeJointJacobians(model, data, q[i]); });
  const double rnea = median_ns(samples, count, [&](std::size_t i) { pinocchio::rnea(model, data, q[i], v[i], a[i]); });
  const double aba_local = median_ns(samples, count, [&](std::size_t i) { pinocchio::aba(model, data, q[i], v[i], a[i], Convention::LOCAL); });
  const double aba_world = median_ns(samples, count, [&](std::size_t i) { pinocchio::aba(model, data, q[i], v[i], a[i], Convention::WORLD); });
  const double crba_local = median_ns(samples, count, [&](std::size_t i) { pinocchio::crba(model, data, q[i], Convention::LOCAL); });
  const double crba_world = median_ns(samples, count, [&](std::size_t i) { pinocchio::crba(model, data, q[i], Convention::WORLD); });
  std::printf("{\"fk\":%.1f,\"jacobians\":%.1f,\"rnea\":%.1f,\"aba\":%.1f,\"crba\":%.1f,"
              "\"aba_local\":%.1f,\"aba_world\":%.1f,\"crba_local\":%.1f,\"crba_world\":%.1f}\n",
              fk, jac, rnea, std::min(aba_local, aba_world), std::min(crba_local, crba_world),
              aba_local, aba_world, crba_local, crba_world);
  return 0;
}
