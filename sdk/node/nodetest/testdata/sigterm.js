// A module that cleans up on SIGTERM only, then exits: its worker's stop
// (the host's SIGTERM) runs the listener. CLEANUP_MARK names the file it
// writes, CLEANUP_MS how long its cleanup takes (20 ms).
const fs = require('node:fs');

process.on('SIGTERM', () => {
  setTimeout(() => {
    fs.writeFileSync(process.env.CLEANUP_MARK, String(process.pid));
    process.exit(0);
  }, Number(process.env.CLEANUP_MS || 20));
});

module.exports = function () {
  return process.pid;
};
