// A small state-machine helper: a table of allowed transitions, and the list of states a
// conditional UPDATE may move a row from ("WHERE status = ANY($from)"): its row count says who won.
export type Transitions<S extends string> = Readonly<Record<S, readonly S[]>>;

export function stateMachine<S extends string>(transitions: Transitions<S>) {
  return {
    transitions,
    can(from: S, to: S): boolean {
      return transitions[from].includes(to);
    },
    /** every state from which `to` may be entered */
    sourcesOf(to: S): S[] {
      return (Object.keys(transitions) as S[]).filter((from) => transitions[from].includes(to));
    },
    assert(from: S, to: S): void {
      if (!transitions[from].includes(to)) throw new Error(`transition ${from} -> ${to} is not allowed`);
    },
  };
}
