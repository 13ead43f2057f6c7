"""A language model behind an OpenAI-compatible endpoint as the overseer H (``LLMOverseer``)
or the model A (``LLMAnswerer``): a concurrent, retrying, disk-cached chat client (``client``,
``cache``), the prompts (``prompts``), strict reply parsing (``parse``), and a stand-in server
for tests (``testing``). Standard library only; imports no domain."""

from ida.overseers.llm.cache import Cache
from ida.overseers.llm.client import ChatClient, EndpointError, Reply, Sampling
from ida.overseers.llm.overseer import ONE_LINE, LLMAnswerer, LLMOverseer
from ida.overseers.llm.parse import Invalid, check_reply, parse_answer, parse_move

__all__ = [
    "ONE_LINE",
    "Cache",
    "ChatClient",
    "EndpointError",
    "Invalid",
    "LLMAnswerer",
    "LLMOverseer",
    "Reply",
    "Sampling",
    "check_reply",
    "parse_answer",
    "parse_move",
]
