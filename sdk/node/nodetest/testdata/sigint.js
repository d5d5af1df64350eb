// A module that keeps its worker alive on SIGINT, as Workestrator's
// test/child2.js does: its stop ends in a SIGKILL after KillTimeout.
// sigints counts the SIGINTs seen.
let seen = 0;
process.on('SIGINT', () => {
  seen++;
});

module.exports = function () {
  return 0;
};

module.exports.sigints = function () {
  return seen;
};
