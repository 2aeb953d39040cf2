# bash completion for crun-lite: verbs, their options, container ids, image subcommands.
# Verbs and options are read from crun-lite's own --help, so they never go stale.
# Installed by meson into $datadir/bash-completion/completions/crun-lite.

_crun_lite_ids() {
    local root=()
    local i
    for ((i = 1; i < COMP_CWORD; i++)); do
        [[ ${COMP_WORDS[i]} == --root ]] && root=(--root "${COMP_WORDS[i + 1]}")
    done
    crun-lite "${root[@]}" list -q 2>/dev/null
}

# The long options (and short forms) a command's --help lists.
_crun_lite_opts() {
    crun-lite "$@" --help 2>/dev/null | grep -oE -- '(^|[ [])--?[a-zA-Z][a-zA-Z-]*' | grep -oE -- '--?[a-zA-Z][a-zA-Z-]*' | sort -u
}

_crun_lite() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    local verb="" sub="" i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            --root | --log | --log-format | --rootless | --cgroup-manager | --criu) ((i++)) ;;
            -*) ;;
            *) verb=${COMP_WORDS[i]}; break ;;
        esac
    done
    if [[ -z $verb ]]; then
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "$(crun-lite --help 2>/dev/null | sed -n '/^Global options:/,$p' |
                grep -oE -- '--[a-z][a-z-]*' | sort -u)" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$(crun-lite --help 2>/dev/null |
                sed -n '/^Commands:/,/^$/s/^  \([a-z]\+\) .*/\1/p')" -- "$cur")
        fi
        return
    fi
    # image, volume and healthcheck have subcommands.
    if [[ $verb == image || $verb == volume || $verb == healthcheck ]]; then
        local j
        for ((j = i + 1; j < COMP_CWORD; j++)); do
            [[ ${COMP_WORDS[j]} != -* ]] && { sub=${COMP_WORDS[j]}; break; }
        done
        if [[ -z $sub ]]; then
            # healthcheck's one (its --help has no Commands: list); image's alias import.
            local subs="run"
            [[ $verb == image ]] && subs="import"
            [[ $verb != healthcheck ]] && subs+=" "$(crun-lite "$verb" --help 2>/dev/null |
                sed -n '/^Commands:/,/^$/s/^  \([a-z]\+\) .*/\1/p')
            [[ $verb == volume ]] && subs=${subs#run }
            mapfile -t COMPREPLY < <(compgen -W "$subs" -- "$cur")
            return
        fi
    fi
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_crun_lite_opts "$verb" ${sub:+"$sub"})" -- "$cur")
        return
    fi
    # The values of run's and create's enumerated options.
    case ${COMP_WORDS[COMP_CWORD - 1]} in
        --restart) mapfile -t COMPREPLY < <(compgen -W "no on-failure on-failure: always unless-stopped" -- "$cur"); return ;;
        --health-on-failure) mapfile -t COMPREPLY < <(compgen -W "none kill restart stop" -- "$cur"); return ;;
    esac
    case $verb in
        volume)
            [[ $sub == rm || $sub == inspect ]] &&
                mapfile -t COMPREPLY < <(compgen -W "$(crun-lite volume ls -q 2>/dev/null)" -- "$cur") ;;
        start | exec | state | kill | delete | rm | pause | resume | ps | update | events | stop | logs | inspect | healthcheck | port | wait)
            mapfile -t COMPREPLY < <(compgen -W "$(_crun_lite_ids)" -- "$cur") ;;
        *) mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
    esac
}

complete -F _crun_lite crun-lite
