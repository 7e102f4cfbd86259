/** A mistake in the command line (exit code 2): the CLI prints its message and the command's help hint. */
export class UsageError extends Error {}
