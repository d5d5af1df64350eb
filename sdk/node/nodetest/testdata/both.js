// A module with one shutdown for SIGINT and SIGTERM: a stop runs it once.
// CLEANUP_MARK names the file where it writes how many times it ran.
const fs = require('node:fs');

let runs = 0;
const down = () => {
  runs++;
  setTimeout(() => {
    fs.writeFileSync(process.env.CLEANUP_MARK, String(runs));
    process.exit(0);
  }, 50);
};
process.on('SIGINT', down);
process.on('SIGTERM', down);

module.exports = function () {
  return process.pid;
};
