/** The loader's errors about a file itself (not about one row): the whole file is refused. */

/** A problem with the file itself: the whole file is refused and nothing of it is loaded. */
export class MalformedFileError extends Error {}

/** The file's compressed stream is cut short or damaged: nothing of it may be loaded. */
export class DamagedFileError extends MalformedFileError {}
