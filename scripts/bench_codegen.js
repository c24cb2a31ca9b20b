// The peer of common/examples/codegen_bench.rs: voucher-code-generator making
// the same count of distinct codes of the same length over the same alphabet.
// usage: node scripts/bench_codegen.js COUNT LENGTH   (NODE_PATH holds the package)
// Prints the wall time and the process's CPU time (user + system, all of
// node's threads) in seconds.
const voucherCodes = require("voucher-code-generator");

const [count, length] = process.argv.slice(2).map(Number);
const cpuAtStart = process.cpuUsage();
const started = process.hrtime.bigint();
const codes = voucherCodes.generate({
  length,
  count,
  charset: "23456789ABCDEFGHJKMNPQRSTUVWXYZ",
});
const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
const cpu = process.cpuUsage(cpuAtStart);
if (new Set(codes).size !== count) throw new Error("codes are not distinct");
console.log(`${elapsed.toFixed(3)} ${((cpu.user + cpu.system) / 1e6).toFixed(3)}`);
console.error(`voucher-code-generator: ${codes.length} distinct codes of length ${length} in ${elapsed.toFixed(3)} s`);
