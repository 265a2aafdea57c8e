using System.Formats.Tar;
using System.Text;
using System.Text.RegularExpressions;

namespace SandboxRunner.Boxes.Swarm;

/// <summary>
/// What a box's gate (<see cref="ServiceSpecs.Gate"/>) runs once the runner opens it. A swarm container's environment
/// and argv are fixed when its service is made, and a warm box is made before its task exists, so neither is in the
/// service: the runner writes them as a small shell file (<see cref="ServiceSpecs.TaskFile"/>) into the box's own gate
/// volume, through the archive API of the box's node, and the gate sources it. The runner writes every byte of it, so
/// it is trusted shell; each value is single-quoted (<c>'</c> becomes <c>'\''</c>), which keeps newlines, <c>$</c>,
/// backquotes and anything else literal. The file is the box user's alone (mode 0400): the only place the task's
/// environment (under <c>allow</c>, the model key) is on the swarm.
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

        return script.Append('\n').ToString();
    }

    /// <summary>One word for sh, whatever <paramref name="value"/> holds (a NUL cannot be in a variable or an argument at all, so it is refused).</summary>
    public static string Quote(string value) =>
        value.Contains('\0', StringComparison.Ordinal)
            ? throw new InvalidOperationException("a value given to a swarm box holds a NUL byte, which no environment variable or argument can carry")
            : "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>
    /// The archive the runner extracts into the gate folder: the task file (<paramref name="script"/>, made by
    /// <see cref="Script"/>) first, then the go-ahead, so the gate (which waits for the go-ahead) never reads a task file
    /// still being written. Both are owned by <paramref name="user"/> (the container's <c>uid:gid</c>) and readable by it alone.
    /// </summary>
    public static async Task WriteAsync(Stream tar, string script, string user, CancellationToken cancellationToken)
    {
        var (uid, gid, mode) = Ids(user);
        await using var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true);
        await writer.WriteEntryAsync(
            new PaxTarEntry(TarEntryType.RegularFile, ServiceSpecs.TaskFile) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(script)), Mode = mode, Uid = uid, Gid = gid },
            cancellationToken);
        await writer.WriteEntryAsync(
            new PaxTarEntry(TarEntryType.RegularFile, ServiceSpecs.GateFile) { DataStream = new MemoryStream([]), Mode = mode, Uid = uid, Gid = gid },
            cancellationToken);
    }

    /// <summary>
    /// The owner and mode of the gate's files: the box's numeric <c>uid:gid</c>, readable by it alone; a user given by
    /// name (no box of the runner's has one) gets root's files readable by all, still inside this box's volume alone.
    /// </summary>
    private static (int Uid, int Gid, UnixFileMode Mode) Ids(string user)
    {
        var parts = user.Split(':');
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        if (int.TryParse(parts[0], invariant, out var uid))
        {
            var gid = uid;
            if (parts.Length == 1 || int.TryParse(parts[1], invariant, out gid))
            {
                return (uid, gid, UnixFileMode.UserRead);
            }
        }

        return (0, 0, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex Name();
}
