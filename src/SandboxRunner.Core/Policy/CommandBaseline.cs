namespace SandboxRunner.Policy;

/// <summary>
/// The commands every task may run whatever <c>allowed_commands</c> says: what a coding agent reads a
/// repository with (<c>ls</c>, <c>rg</c>, <c>sed -n</c>, <c>cat</c>, <c>git status</c>) and the file commands it
/// changes its workspace with (<c>mkdir</c>, <c>cp</c>, <c>rm</c>, <c>apply_patch</c>), whose effects the path
/// policy judges. None of them starts another program: the few that can (<c>find -exec</c>, <c>xargs</c>,
/// <c>awk</c>, <c>sed</c>'s <c>e</c>, <c>git -c</c>) have what they start judged, or are refused, by
/// <see cref="Launchers"/> before a command gets here. docs/policies.md lists the same programs (a test holds
/// the two together).
/// </summary>
public static class CommandBaseline
{
    /// <summary>Programs that read, inspect and print, whatever their arguments.</summary>
    public static readonly IReadOnlyList<string> Inspection =
    [
        "ls", "cat", "head", "tail", "nl", "wc", "grep", "egrep", "fgrep", "rg", "sort", "uniq", "cut", "tr", "diff", "cmp", "comm", "stat", "file",
        "pwd", "echo", "printf", "true", "false", "test", "[", "[[", ":", "basename", "dirname", "realpath", "readlink", "which", "type", "tree",
        "du", "df", "date", "printenv", "id", "whoami", "uname", "nproc", "ps", "sleep", "seq", "tac", "rev", "column", "paste", "join", "fold",
        "fmt", "expand", "unexpand", "od", "xxd", "hexdump", "strings", "md5sum", "sha1sum", "sha256sum", "sha512sum", "cksum", "base64", "jq",
        "cd", "pushd", "popd", "dirs", "read", "xargs",
    ];

    /// <summary>Programs that change files; the path policy judges every change they make in the workspace.</summary>
    public static readonly IReadOnlyList<string> WorkspaceFiles =
    [
        "mkdir", "touch", "cp", "mv", "rm", "rmdir", "ln", "chmod", "tee", "truncate", "apply_patch", "applypatch",
    ];

    /// <summary>Programs in the baseline with a rule of their own (see <see cref="Refuses"/>).</summary>
    public static readonly IReadOnlyList<string> Judged = ["sed", "awk", "gawk", "mawk", "find", "git", "command", "set"];

    private static readonly HashSet<string> Plain = new(Inspection.Concat(WorkspaceFiles), StringComparer.Ordinal);

    /// <summary>Options of <c>set</c> the baseline allows: error handling and tracing, never <c>-a</c>/<c>-k</c>, which export variables.</summary>
    private static readonly HashSet<string> SetOptions = new(StringComparer.Ordinal) { "errexit", "nounset", "pipefail", "xtrace", "verbose", "noclobber", "noglob" };

    /// <summary>Why <paramref name="command"/> (a simple command, wrappers already unwrapped) is not in the baseline; null when it is.</summary>
    public static string? Refuses(IReadOnlyList<string> command)
    {
        var name = ShellCommand.ProgramName(command[0]);
        if (name is null)
        {
            return $"{command[0]} is named by a path outside the system directories";
        }

        if (Plain.Contains(name))
        {
            return null;
        }

        return name switch
        {
            "sed" => SedScript.Examine(command) switch
            {
                { Unjudgeable: { } why } => why,
                { Writes: true } => "sed's w command writes a file its script names",
                _ => null,
            },
            "awk" or "gawk" or "mawk" => AwkProgram.Examine(command),
            "find" => command.FirstOrDefault(w => w is "-fprint" or "-fprint0" or "-fprintf" or "-fls") is { } action
                ? $"find {action} writes a file it names"
                : null,
            "git" => GitCommand.Examine(command) switch
            {
                { Unjudgeable: { } why } => why,
                { NotBaseline: { } why } => why,
                _ => null,
            },
            "command" => command.Count > 1 && command[1] is "-v" or "-V" ? null : "command runs the program it names",
            "set" => SetRefuses(command),
            _ => $"{name} is not a baseline command",
        };
    }

    /// <summary><c>set -euo pipefail</c> and the like; <c>set -a</c>/<c>-k</c> would export every variable a later command sets.</summary>
    private static string? SetRefuses(IReadOnlyList<string> command)
    {
        for (var i = 1; i < command.Count; i++)
        {
            var word = command[i];
            if (word == "--" || !(word.StartsWith('-') || word.StartsWith('+')))
            {
                return null;
            }

            if (word.Length == 2 && word[1] == 'o')
            {
                if (i + 1 < command.Count && !SetOptions.Contains(command[++i]))
                {
                    return $"set -o {command[i]} is not one of the baseline's shell options ({string.Join(", ", SetOptions)})";
                }

                continue;
            }

            if (word[1..].Any(c => c is not ('e' or 'u' or 'x' or 'v' or 'C' or 'f' or 'o')))
            {
                return $"set {word} is not one of the baseline's shell options (-e, -u, -x, -v, -C, -f, -o)";
            }

            if (word.EndsWith('o') && i + 1 < command.Count && !SetOptions.Contains(command[++i]))
            {
                return $"set -o {command[i]} is not one of the baseline's shell options ({string.Join(", ", SetOptions)})";
            }
        }

        return null;
    }
}
