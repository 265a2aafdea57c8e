using System.Text;
using System.Text.RegularExpressions;

namespace SandboxRunner.Boxes.Swarm;

/// <summary>
/// What a box's gate (<see cref="ServiceSpecs.Gate"/>) runs once the runner opens it. A swarm container's environment
/// and argv are fixed when its service is made, and a warm box is made before its task exists, so neither is in the
/// service: the runner writes them as a small shell text (<see cref="Script"/>) to the box's standard input, through an
/// attach on the box's node, and the gate evaluates it. The runner writes every byte of it, so it is trusted shell; each
/// value is single-quoted (<c>'</c> becomes <c>'\''</c>), which keeps newlines, <c>$</c>, backquotes and anything else
/// literal. It is in no file and no spec: under <c>allow</c> the task's environment holds the model key, and it exists
/// on the swarm only in the box's own processes, as locally.
/// </summary>
internal static partial class SwarmGate
{
    /// <summary>What the gate execs (under setpriv), in which folder, with which variables added to the image's.</summary>
    public sealed record Launch(IReadOnlyList<string> Argv, string WorkingDirectory, IReadOnlyDictionary<string, string> Environment);

    /// <summary>The task file: exports, the folder, the argv as the gate's positional parameters.</summary>
    public static string Script(Launch launch)
    {
        if (launch.Argv.Count == 0)
        {
            throw new InvalidOperationException("a swarm box needs a command: its image names no entrypoint or command and the task gave none");
        }

        var script = new StringBuilder();
        foreach (var (name, value) in launch.Environment.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!Name().IsMatch(name))
            {
                throw new InvalidOperationException(
                    $"the environment variable name '{name}' cannot be given to a swarm box (its gate sets variables in sh, which takes letters, digits and '_', not starting with a digit); rename it");
            }

            script.Append("export ").Append(name).Append('=').Append(Quote(value)).Append('\n');
        }

        script.Append("cd ").Append(Quote(launch.WorkingDirectory)).Append(" || exit 126\n");
        script.Append("set --");
        foreach (var arg in launch.Argv)
        {
            script.Append(' ').Append(Quote(arg));
        }

        // Last, so a text cut short (the gate reads exactly the length it was told) never runs a command.
        return script.Append('\n').Append(ServiceSpecs.ReadyVariable).Append("=ready\n").ToString();
    }

    /// <summary>One word for sh, whatever <paramref name="value"/> holds (a NUL cannot be in a variable or an argument at all, so it is refused).</summary>
    public static string Quote(string value) =>
        value.Contains('\0', StringComparison.Ordinal)
            ? throw new InvalidOperationException("a value given to a swarm box holds a NUL byte, which no environment variable or argument can carry")
            : "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>
    /// What the runner writes to a box's standard input to open its gate: the length in bytes of <paramref name="script"/>
    /// (made by <see cref="Script"/>) on a line of its own, then the script. The gate reads exactly that many bytes, so it
    /// never waits for an end of input the attach does not send.
    /// </summary>
    public static byte[] Message(string script)
    {
        var body = Encoding.UTF8.GetBytes(script);
        var head = Encoding.ASCII.GetBytes(body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\n");
        var message = new byte[head.Length + body.Length];
        head.CopyTo(message, 0);
        body.CopyTo(message, head.Length);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(body);
        return message;
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex Name();
}
