// How a component's exports fail. componentize-js turns a thrown *string* into the `err` of the
// export's `result<_, string>` (the host reports `policy.settings-rejected` or
// `policy.undecided` with it), but an Error cannot be lowered as that string: the component
// aborts, and only SpiderMonkey's own lines reach stderr. `guarded` keeps the first meaning for
// strings and, for anything else, prints the error's stack and message to stderr before
// rethrowing, so the host's `policy.trapped` finding (a deny) quotes what went wrong.

/** Wrap an export: thrown strings stay refusals; other throws are reported, then trap. */
export function guarded(fn) {
  return function guardedExport(...args) {
    try {
      return fn.apply(this, args);
    } catch (e) {
      if (typeof e !== 'string') {
        if (e instanceof Error && e.stack) console.error(e.stack);
        // Last, so that it is in the few stderr lines the host quotes.
        console.error(`Uncaught ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      }
      throw e;
    }
  };
}
