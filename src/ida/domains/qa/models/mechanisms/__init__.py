"""The model's optional mechanisms, one module each: each owns its settings (a table under
``[model]`` in the config, by the same name), its parameters and its validation, and plugs into
``QAModel`` through ``Mechanism``'s hooks. A mechanism is on when its table is present."""
