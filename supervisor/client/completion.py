"""`evsectl completion bash|zsh`: shell completion generated from the command table.

    source <(evsectl completion bash)          # bash, e.g. in ~/.bashrc
    source <(evsectl completion zsh)           # zsh, e.g. in ~/.zshrc (after compinit)

Completes the subcommands, the global options, the command names after `call EVSE`, and
each command's `key=` names (and the values of an enum argument).
"""

from __future__ import annotations

import argparse

from supervisor.client import reference

SUBCOMMANDS = ("status", "list", "call", "watch", "help", "top", "restart", "reload", "logs", "completion")
GLOBAL_OPTIONS = ("--endpoint", "--publish-endpoint", "--config", "--timeout", "--retries", "--json")


def _argument_words(entry: dict[str, object]) -> list[str]:
    """`key=` for each argument, `key=VALUE` for each value of an enum argument."""
    words: list[str] = []
    args = entry["args"]
    assert isinstance(args, dict)
    for name, arg in args.items():
        words.append(f"{name}=")
        words.extend(f"{name}={value}" for value in arg.get("enum", ()))
    return words


def _cases(indent: str, pattern_end: str) -> str:
    """One shell `case` branch per command that has arguments: its words in $words."""
    lines = []
    for name, entry in reference.commands().items():
        words = _argument_words(entry)
        if words:
            lines.append(f"{indent}{name}{pattern_end} words='{' '.join(words)}' ;;")
    return "\n".join(lines)


_BASH = """# bash completion for evsectl (generated from the command table by `evsectl completion bash`)
_evsectl() {{
    local cur words="" i command="" positional=() tokens=() line="${{COMP_LINE:0:COMP_POINT}}"
    read -ra tokens <<< "$line"  # whole words: bash itself splits key=value at the =
    [[ -z "$line" || "$line" == *" " ]] && tokens+=("")
    cur="${{tokens[-1]}}"
    for ((i = 1; i < ${{#tokens[@]}} - 1; i++)); do
        case "${{tokens[i]}}" in
            --endpoint|--publish-endpoint|--config|--timeout|--retries) ((i++)) ;;
            -*) ;;
            *) positional+=("${{tokens[i]}}") ;;
        esac
    done
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "{options} --help" -- "$cur"))
        return
    fi
    command="${{positional[0]}}"
    if [[ ${{#positional[@]}} -eq 0 ]]; then
        words="{subcommands}"
    elif [[ "$command" == help && ${{#positional[@]}} -eq 1 ]]; then
        words="{commands}"
    elif [[ "$command" == completion && ${{#positional[@]}} -eq 1 ]]; then
        words="bash zsh"
    elif [[ "$command" == call && ${{#positional[@]}} -eq 2 ]]; then
        words="{commands}"
    elif [[ "$command" == call && ${{#positional[@]}} -ge 3 ]]; then
        case "${{positional[2]}}" in
{cases}
        esac
    fi
    compopt -o nospace 2>/dev/null
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
    [[ ${{#COMPREPLY[@]}} -eq 1 && "${{COMPREPLY[0]}}" != *= ]] && compopt +o nospace 2>/dev/null
    if [[ "$cur" == *=* && "$COMP_WORDBREAKS" == *=* ]]; then
        COMPREPLY=("${{COMPREPLY[@]#*=}}")  # bash completes only what follows the =
    fi
}}
complete -F _evsectl evsectl
"""


def bash() -> str:
    return _BASH.format(
        commands=" ".join(reference.commands()),
        options=" ".join(GLOBAL_OPTIONS),
        subcommands=" ".join(SUBCOMMANDS),
        cases=_cases("            ", ")"),
    )


def zsh() -> str:
    commands = " ".join(reference.commands())
    return f"""#compdef evsectl
# zsh completion for evsectl (generated from the command table by `evsectl completion zsh`)
_evsectl() {{
    local -a positional choices
    local words_list="" i
    for ((i = 2; i < CURRENT; i++)); do
        case "${{words[i]}}" in
            --endpoint|--publish-endpoint|--config|--timeout|--retries) ((i++)) ;;
            -*) ;;
            *) positional+=("${{words[i]}}") ;;
        esac
    done
    if [[ "${{words[CURRENT]}}" == -* ]]; then
        words_list="{" ".join(GLOBAL_OPTIONS)} --help"
    elif (( ${{#positional}} == 0 )); then
        words_list="{" ".join(SUBCOMMANDS)}"
    elif [[ "${{positional[1]}}" == help ]] && (( ${{#positional}} == 1 )); then
        words_list="{commands}"
    elif [[ "${{positional[1]}}" == call ]] && (( ${{#positional}} == 2 )); then
        words_list="{commands}"
    elif [[ "${{positional[1]}}" == completion ]] && (( ${{#positional}} == 1 )); then
        words_list="bash zsh"
    elif [[ "${{positional[1]}}" == call ]] && (( ${{#positional}} >= 3 )); then
        case "${{positional[3]}}" in
{_cases("            ", ")").replace(" words=", " words_list=")}
        esac
    fi
    choices=(${{=words_list}})
    compadd -S '' -- "${{choices[@]}}"
}}
compdef _evsectl evsectl
"""


def cmd_completion(options: argparse.Namespace) -> int:
    print(bash() if options.shell == "bash" else zsh(), end="")
    return 0
