/**
 * The scripts `drove --print-completion bash|zsh` prints (the Python CLI's option; its shtab scripts are static,
 * these ask `drove __complete` so that ids come from the cluster). Load with
 * `source <(drove --print-completion bash)` in ~/.bashrc, or for zsh after `compinit`:
 * `source <(drove --print-completion zsh)` (or save it as `_drove` in a directory on $fpath).
 * The helper runs the very command that is being completed (`${COMP_WORDS[0]}`, `${words[1]}`), so a `drove`
 * that is an alias, a wrapper or a path completes the same way.
 */

export const COMPLETION_SHELLS = ['bash', 'zsh'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

const BASH = `# drove completion for bash: source <(drove --print-completion bash)
_drove_completion() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local IFS=$'\\n'
  local -a lines
  lines=($("\${COMP_WORDS[0]}" __complete -- "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null </dev/null))
  COMPREPLY=()
  if [[ "\${lines[0]}" == files ]]; then
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
    return 0
  fi
  local line
  for line in "\${lines[@]:1}"; do
    COMPREPLY+=("\${line%%$'\\t'*}")
  done
  return 0
}
complete -F _drove_completion drove
`;

const ZSH = `#compdef drove
# drove completion for zsh: after compinit, source <(drove --print-completion zsh)
_drove() {
  local -a lines candidates
  local line value
  lines=("\${(@f)$("\${words[1]}" __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null </dev/null)}")
  if [[ "\${lines[1]}" == files ]]; then
    _files
    return
  fi
  for line in "\${(@)lines[2,-1]}"; do
    [[ -z "$line" ]] && continue
    value="\${line%%$'\\t'*}"
    if [[ "$line" == *$'\\t'* ]]; then
      candidates+=("\${value//:/\\\\:}:\${line#*$'\\t'}")
    else
      candidates+=("\${value//:/\\\\:}")
    fi
  done
  _describe -t values drove candidates
}
if [[ "$funcstack[1]" == _drove ]]; then
  _drove "$@"
else
  compdef _drove drove
fi
`;

export function completionScript(shell: CompletionShell): string {
  return shell === 'bash' ? BASH : ZSH;
}
