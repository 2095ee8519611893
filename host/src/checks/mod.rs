//! Running a set of policies for a phase and collecting their findings, fail closed.
