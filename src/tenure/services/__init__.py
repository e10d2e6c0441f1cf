"""Use cases, one module each. They gather the decision's inputs, call the domain, and
store and sign the outcome, taking their collaborators (unit of work, key ring, clock)
explicitly."""
