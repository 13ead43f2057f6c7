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


@pytest.fixture
def tiny_config(tmp_path):
    """A config file for a question-answering run of a few seconds."""
    path = tmp_path / "tiny.toml"
    path.write_text(
        "instances_per_round = 4\nquestions_per_instance = 4\nbatch_instances = 4\n"
        "eval_per_level = 8\neval_every = 2\n"
        "[model]\nd_model = 16\nn_heads = 2\nenc_layers = 1\ndec_layers = 1\n"
    )
    return path


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's, never a download) driven by Playwright."""
    from playwright.sync_api import sync_playwright

    from ida.overseers.human.testing import CHROMIUM

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    """A fresh browser tab (its own cookies), 10 s to find what it waits for."""
    context = browser.new_context()
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()
