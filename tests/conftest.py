import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture
def tiny():
    """Settings for a run that takes a couple of seconds."""
    return dict(
        task="permutation_powering",
        size=6,
        steps=20,
        eval_every=10,
        model={"d_model": 32, "n_heads": 2, "enc_layers": 1, "dec_layers": 1},
        instances_per_round=8,
        questions_per_instance=8,
        batch_instances=8,
        eval_per_level=16,
        curriculum_samples=16,
        device="cpu",
    )
