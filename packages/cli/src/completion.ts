/** `berth completion bash|zsh`: static scripts from the same verb lists the CLI dispatches on. */
import { DOCKER_VERBS } from './docker.js';
import { MACHINE_VERBS } from './machine-commands.js';

export const TOP_LEVEL = ['machine', 'context', 'completion', 'help', ...DOCKER_VERBS] as const;

export function completionScript(shell: string): string {
  const top = TOP_LEVEL.join(' ');
  const machine = MACHINE_VERBS.join(' ');
  if (shell === 'bash') {
    return `# berth completion for bash: source <(berth completion bash)
_berth() {
  local cur=\${COMP_WORDS[COMP_CWORD]}
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${top}" -- "$cur") )
  elif [ "$COMP_CWORD" -eq 2 ] && [ "\${COMP_WORDS[1]}" = machine ]; then
    COMPREPLY=( $(compgen -W "${machine}" -- "$cur") )
  elif [ "$COMP_CWORD" -eq 2 ] && [ "\${COMP_WORDS[1]}" = completion ]; then
    COMPREPLY=( $(compgen -W "bash zsh" -- "$cur") )
  elif [ "$COMP_CWORD" -eq 2 ] && [ "\${COMP_WORDS[1]}" = context ]; then
    COMPREPLY=( $(compgen -W "use" -- "$cur") )
  else
    COMPREPLY=( $(compgen -f -- "$cur") )
  fi
}
complete -F _berth berth
`;
  }
  if (shell === 'zsh') {
    return `#compdef berth
# berth completion for zsh: source <(berth completion zsh)
_berth() {
  if (( CURRENT == 2 )); then
    compadd -- ${top}
  elif (( CURRENT == 3 )) && [[ \${words[2]} == machine ]]; then
    compadd -- ${machine}
  elif (( CURRENT == 3 )) && [[ \${words[2]} == completion ]]; then
    compadd -- bash zsh
  elif (( CURRENT == 3 )) && [[ \${words[2]} == context ]]; then
    compadd -- use
  else
    _files
  fi
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _berth "$@"; else compdef _berth berth; fi
`;
  }
  throw new Error(`completion: unknown shell "${shell}"; one of: bash, zsh`);
}
