"""fedhub data-interface standards: versioned schemas, field classification, registry.

Import what you need from the submodules (`from standards import registry`); this package
module stays import-light so sibling packages (e.g. `standards.tasks`) load independently.
"""
