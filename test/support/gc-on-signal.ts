/**
 * Preloaded (`--import`) into a service process whose memory a test measures: on SIGUSR2 it runs a full
 * garbage collection (the process needs --expose-gc) and prints `gc done <n>`, so the test reads RSS
 * after it.
 */
let collections = 0;
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  process.stdout.write(`gc done ${++collections}\n`);
});
