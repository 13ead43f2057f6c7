"""The model as the engine's batch function: the instances encoded once, answers the model's."""

import torch

from ida.domains.qa.models.answerer import BatchedAnswerer, item_tensors


def test_the_answerer_answers_the_models_argmax_from_one_encoding(variant, model_for, live, asked):
    """Items (instance slot, question) over three instances: the answerer's logits are the
    model's for those questions and its answers their argmax, call after call, from the one
    encoding made on construction."""
    task, facts, items = asked
    model = live(model_for(task, **variant))
    with torch.no_grad():
        expected = model(
            facts, torch.tensor([q for _, q in items]), torch.tensor([s for s, _ in items])
        )
    encode, encodings = model.encode, []
    model.encode = lambda facts: encodings.append(facts) or encode(facts)
    answerer = BatchedAnswerer(model, facts)
    assert torch.allclose(answerer.logits(items), expected, atol=1e-5)
    assert answerer(items) == expected.argmax(-1).tolist()
    assert answerer(items[5:7]) == expected[5:7].argmax(-1).tolist()
    assert len(encodings) == 1


def test_items_become_slots_and_questions():
    """Engine items (slot, question, anything else) -> slots [B] and questions [B, L]."""
    slots, questions = item_tensors([(2, (5, 6), "x"), (0, (7, 8), "y")], torch.device("cpu"))
    assert slots.tolist() == [2, 0] and questions.tolist() == [[5, 6], [7, 8]]
    assert slots.dtype == questions.dtype == torch.long
