"""Every prompt the language-model overseer and answerer see, in one place.

A step becomes one user turn (facts, question, the subquestions answered so far, a warning on
H's last turn, and a cue for the reply); a move becomes one assistant line: ``ANSWER: <text>``,
``ASK: <subquestion>`` or ``ASK: <subquestion> | <subquestion>``. Few-shot examples are earlier
user/assistant turns, which even a 135M-parameter chat model copies the form of. Text from
outside (facts, answers from the model A) is flattened to one line, so it cannot forge the
prompt's structure.
"""

from __future__ import annotations

from collections.abc import Sequence

Step = dict  # {"facts": [str], "question": str, "answered": [[str, str]], "last": bool}
Move = dict  # {"answer": str} or {"ask": [str]} (one or two subquestions)
Messages = list[dict[str, str]]

OVERSEER_SYSTEM = """\
You answer a question about some facts, one step at a time. On each turn you either answer \
the question, or ask one or two easier subquestions; their answers come back on your next turn.
Reply with exactly one line, in one of these forms:
ANSWER: <the answer>
ASK: <subquestion>
ASK: <subquestion> | <subquestion>
A subquestion must be easier than the question. Answer as soon as the answers so far are \
enough. On your last turn you must ANSWER."""

ANSWERER_SYSTEM = """\
Answer the question using the facts. Reply with exactly one line:
ANSWER: <the answer>"""

LAST_TURN = "This is your last turn: reply with ANSWER."
# Each turn ends with a cue: without it SmolLM2-135M went on listing facts ("- The home of ...").
CUE = "Your reply (ANSWER: ... or ASK: ...):"
LAST_CUE = "Your reply (ANSWER: ...):"
RETRY = (
    "That reply is invalid ({reason}). Reply with one line: ANSWER: <answer> or ASK: <subquestion>."
)
ANSWER_RETRY = "That reply is invalid ({reason}). Reply with one line: ANSWER: <answer>."


def flat(text: object) -> str:
    """``text`` on one line, whitespace collapsed."""
    return " ".join(str(text).split())


def render_facts(facts: Sequence[str]) -> str:
    return "Facts:\n" + "\n".join(f"- {flat(fact)}" for fact in facts)


def render_step(step: Step) -> str:
    """The user turn that shows H a step."""
    lines = [render_facts(step["facts"]), f"Question: {flat(step['question'])}"]
    answered = step.get("answered") or []
    if answered:
        lines.append("Answered so far:")
        lines += [f"- {flat(q)} -> {flat(a)}" for q, a in answered]
    else:
        lines.append("Answered so far: nothing")
    if step.get("last"):
        lines += [LAST_TURN, LAST_CUE]
    else:
        lines.append(CUE)
    return "\n".join(lines)


def render_move(move: Move) -> str:
    """The one-line reply that makes ``move``."""
    if "answer" in move:
        return f"ANSWER: {flat(move['answer'])}"
    return "ASK: " + " | ".join(flat(q) for q in move["ask"])


def overseer_messages(
    step: Step, examples: Sequence[tuple[Step, Move]], system: str = OVERSEER_SYSTEM
) -> Messages:
    """System prompt, the examples as turns, then the step."""
    messages = [{"role": "system", "content": system}]
    for example, move in examples:
        messages.append({"role": "user", "content": render_step(example)})
        messages.append({"role": "assistant", "content": render_move(move)})
    messages.append({"role": "user", "content": render_step(step)})
    return messages


def render_question(facts: Sequence[str], question: str) -> str:
    """The user turn that asks the answerer a question."""
    return f"{render_facts(facts)}\nQuestion: {flat(question)}\n{LAST_CUE}"


def answerer_messages(
    facts: Sequence[str],
    question: str,
    examples: Sequence[tuple[Sequence[str], str, str]],
    system: str = ANSWERER_SYSTEM,
) -> Messages:
    """System prompt, the (facts, question, answer) examples as turns, then the question."""
    messages = [{"role": "system", "content": system}]
    for example_facts, example_question, answer in examples:
        shown = render_question(example_facts, example_question)
        messages.append({"role": "user", "content": shown})
        messages.append({"role": "assistant", "content": f"ANSWER: {flat(answer)}"})
    messages.append({"role": "user", "content": render_question(facts, question)})
    return messages


def retry_turns(reply: str | None, reason: str, template: str = RETRY) -> Messages:
    """The rejected reply and a user turn saying why, appended to retry a conversation."""
    shown = flat(reply or "")[:300]
    return [
        {"role": "assistant", "content": shown},
        {"role": "user", "content": template.format(reason=flat(reason))},
    ]
