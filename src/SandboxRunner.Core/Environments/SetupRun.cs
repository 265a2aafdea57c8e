using System.Text;
using SandboxRunner.Codex;
using SandboxRunner.Configuration;
using SandboxRunner.Platform;
using SandboxRunner.Policy;
using SandboxRunner.Boxes;

namespace SandboxRunner.Environments;

/// <summary>What a setup left: the untracked paths it made (its artefacts) and the tracked files it changed (reported, never kept).</summary>
public sealed record SetupRecord(IReadOnlyList<string> Artifacts, IReadOnlyList<string> TrackedChanges)
{
    public const string ArtifactsLabel = "sandbox-runner.setup-artifacts";
    public const string TrackedChangesLabel = "sandbox-runner.setup-tracked-changes";

    /// <summary>The record as image labels (base64 of NUL-separated paths: any byte of a name survives).</summary>
    public IReadOnlyDictionary<string, string> ToLabels() => new Dictionary<string, string>
    {
        [ArtifactsLabel] = Encode(Artifacts),
        [TrackedChangesLabel] = Encode(TrackedChanges),
    };

    public static SetupRecord FromLabels(IReadOnlyDictionary<string, string> labels) =>
        new(Decode(labels.GetValueOrDefault(ArtifactsLabel)), Decode(labels.GetValueOrDefault(TrackedChangesLabel)));

    private static string Encode(IReadOnlyList<string> paths) => Convert.ToBase64String(Encoding.UTF8.GetBytes(string.Join('\0', paths)));

    private static IReadOnlyList<string> Decode(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return [];
        }

        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(value)).Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (FormatException)
        {
            return [];
        }
    }
}

/// <summary>What a setup runs with besides its site (which says what it may reach): the repository's scope, its limits and its log.</summary>
public sealed record SetupPlace(string Scope, ResourcePolicy Resources, TaskLimits Limits, string LogFile)
{
    /// <summary>The authorities setup trusts besides the image's (<c>extra_ca_certs</c>), or null.</summary>
    public TrustedAuthorities? Trust { get; init; }

    /// <summary>The OCI runtime setup runs under, the environment's tasks' (see <see cref="RuntimeCheck"/>); null for the engine's default.</summary>
    public string? Runtime { get; init; }
}

/// <summary>A setup command failed; <see cref="Tail"/> is the end of its log, for saying what it may have missed.</summary>
public sealed class SetupFailedException(string message, IReadOnlyList<string> tail) : EnvironmentException(message)
{
    public IReadOnlyList<string> Tail { get; } = tail;
}

/// <summary>
/// Runs an environment's setup commands once, in a container of the environment image, as the agent's own uid
/// 1000 with no capabilities, and commits what it made as the setup image. Its workspace holds only the files
/// its key covers (<see cref="SetupKey.View"/>), committed into a repository of their own so <c>git status</c>
/// names what setup made: the untracked paths are its artefacts; the view's files it changed are reported and
/// never kept. No object of the repository is in the container: setup cannot read what its key does not cover.
/// Before the commit the view's files and <c>.git</c> are removed (every run puts its own checkout back).
/// </summary>
public static class SetupRun
{
    /// <summary>Setup commands get this long altogether.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(30);

    /// <summary>Where setup's HOME is: in the image, so caches there (~/.nuget/packages, ~/.npm) are kept with it.</summary>
    public const string Home = "/home/sandbox";

    private const string StatusFile = "/var/tmp/sandbox-runner-setup.status";
    private const long MaxStatusBytes = 8L << 20;
    private const int MaxArtifacts = 10_000;
    private const string StepMarker = "[sandbox-runner setup ";

    /// <summary>The task id a setup's box is labelled with.</summary>
    public const string BoxTaskId = "environment-setup";

    /// <param name="site">
    /// Where the setup's box goes: an open site for <c>setup_network: allow</c>, an allowlist site (behind its egress
    /// proxy) for <c>deny</c>. A site on a backend that cannot commit boxes is refused before this (see <see cref="EnvironmentBackend"/>).
    /// </param>
    /// <param name="writeView">Writes the tar of the files setup sees (owned by uid 1000) into <c>/workspace</c>.</param>
    public static async Task<SetupRecord> RunAsync(
        IRunSite site, EnvironmentImage image, EnvironmentSpec spec, Func<Stream, CancellationToken, Task> writeView, string setupTag, SetupPlace place,
        Action<string> report, CancellationToken cancellationToken)
    {
        var proxyUrl = site.Egress?.ForwardProxyUrl;
        var box = new BoxSpec
        {
            Image = image.Tag,
            Command = ["/bin/sh", "-c", Script(spec.Setup, proxyUrl, place.Trust is not null)],
            User = UnixOwner.ImageUser.ToString(),
            WorkingDirectory = CodexCommandLine.Workspace,
            // Nothing here: a box's variables are committed into the image, and tasks must not inherit the setup's proxy.
            Environment = new Dictionary<string, string>(),
            Limits = ResourceProfiles.For(place.Resources),
            MaxLogBytes = place.Limits.MaxLogBytes,
            ReadOnlyRoot = false,
            Identity = new BoxIdentity(BoxTaskId, Purpose: BoxPurpose.Setup),
            Init = image.Init is { } init ? new SealedInit(init, Undumpable: false) : null,
            Runtime = place.Runtime,
        };

        var tail = new Queue<string>();
        var step = 0;
        long logged = 0;
        Directory.CreateDirectory(Path.GetDirectoryName(place.LogFile)!);
        await using var log = new StreamWriter(place.LogFile, append: false, new UTF8Encoding(false));
        var capture = new OutputCapture();
        void Line(string line)
        {
            var shown = TerminalText.Neutralise(line);
            if (line.StartsWith(StepMarker, StringComparison.Ordinal))
            {
                // A new command: the lines kept for its failure are its own.
                tail.Clear();
                var slash = line.IndexOf('/', StepMarker.Length);
                step = slash > 0 && int.TryParse(line.AsSpan(StepMarker.Length, slash - StepMarker.Length), out var n) ? n : int.MaxValue;
            }
            else
            {
                if (tail.Count == 20)
                {
                    tail.Dequeue();
                }

                tail.Enqueue(shown);
            }

            if ((logged += shown.Length + 1) <= place.Limits.MaxLogBytes)
            {
                log.WriteLine(shown);
            }

            if (shown.StartsWith(StepMarker, StringComparison.Ordinal))
            {
                report(shown);
            }
        }

        capture.StdoutLine += Line;
        capture.StderrLine += Line;

        await using var sandbox = await site.CreateBoxAsync(box, cancellationToken);
        await sandbox.PutArchiveAsync(CodexCommandLine.Workspace, writeView, cancellationToken);
        if (place.Trust is { } trust)
        {
            await sandbox.PutArchiveAsync("/var/tmp", (tar, ct) => BundleTarAsync(tar, trust, ct), cancellationToken);
        }

        using var noStop = new CancellationTokenSource();
        var exit = await sandbox.RunAsync(Timeout, capture.Write, null, noStop.Token, cancellationToken);
        capture.Complete();
        await log.FlushAsync(cancellationToken);

        if (exit.TimedOut || exit.ExitCode != 0)
        {
            var what = exit.TimedOut ? $"did not finish within {Timeout.TotalMinutes:F0} minutes" : $"exited with {exit.ExitCode}";
            var known = step >= 1 && step <= spec.Setup.Count;
            throw SetupFailure.Describe(
                known ? $"setup[{step - 1}]" : null, step, spec.Setup.Count, known ? spec.Setup[step - 1] : null, what, place.LogFile, [.. tail]);
        }

        var status = await sandbox.ReadFileAsync(StatusFile, MaxStatusBytes, cancellationToken)
            ?? throw new EnvironmentException("setup", $"its record of what it made ({StatusFile}) is missing or over {MaxStatusBytes >> 20} MiB; keep setup's untracked output under .gitignore'd folders");
        var record = Parse(status);
        if (record.Artifacts.Count > MaxArtifacts)
        {
            throw new EnvironmentException("setup", $"left more than {MaxArtifacts} separate untracked paths; add the folders it writes (node_modules/, .venv/) to .gitignore so they count as one each");
        }

        await sandbox.CommitAsync(new ImageCommit(
            setupTag,
            new Dictionary<string, string>(SetupKey.Labels(setupTag, place.Scope)).Concat(record.ToLabels()).ToDictionary(),
            ["ENTRYPOINT []", "CMD []", $"USER {UnixOwner.ImageUser}", $"WORKDIR {CodexCommandLine.Workspace}"]), cancellationToken);
        return record;
    }

    /// <summary>
    /// Where setup finds the <c>extra_ca_certs</c> bundle: outside the files it sees, in the container's own layer
    /// (<c>/tmp</c> is a tmpfs mounted over it at start), and removed by the script before the commit, so no image keeps it.
    /// </summary>
    public const string BundlePath = "/var/tmp/" + TrustedAuthorities.FileName;

    /// <summary>A tar of the bundle alone, without a root entry (one would change the mode and owner of <c>/var/tmp</c>).</summary>
    private static async Task BundleTarAsync(Stream output, TrustedAuthorities trust, CancellationToken cancellationToken)
    {
        var bytes = Encoding.UTF8.GetBytes(trust.Pem);
        await using var tar = new ICSharpCode.SharpZipLib.Tar.TarOutputStream(output, Encoding.UTF8) { IsStreamOwner = false };
        var entry = ICSharpCode.SharpZipLib.Tar.TarEntry.CreateTarEntry(TrustedAuthorities.FileName);
        entry.Size = bytes.Length;
        entry.TarHeader.Mode = 0b110_100_100;
        entry.TarHeader.UserId = (int)UnixOwner.ImageUser.Uid;
        entry.TarHeader.GroupId = (int)UnixOwner.ImageUser.Gid;
        entry.ModTime = DateTime.UnixEpoch;
        await tar.PutNextEntryAsync(entry, cancellationToken);
        await tar.WriteAsync(bytes, cancellationToken);
        await tar.CloseEntryAsync(cancellationToken);
    }

    /// <summary><c>git status --porcelain -z --ignored</c>: untracked and ignored entries are artefacts, the rest changed tracked files.</summary>
    public static SetupRecord Parse(byte[] status)
    {
        var artifacts = new List<string>();
        var changed = new List<string>();
        var fields = Encoding.UTF8.GetString(status).Split('\0');
        for (var i = 0; i < fields.Length; i++)
        {
            var field = fields[i];
            if (field.Length < 4 || field[2] != ' ')
            {
                continue;
            }

            var code = field[..2];
            var path = field[3..];
            if (code is "??" or "!!")
            {
                // A folder keeps its trailing slash: what the harvest asks git about it depends on it being one.
                artifacts.Add(path);
            }
            else
            {
                changed.Add(path.TrimEnd('/'));
                if (code[0] is 'R' or 'C')
                {
                    i++;
                }
            }
        }

        return new SetupRecord(artifacts, changed);
    }

    /// <summary>
    /// The commands, each in its own <c>/bin/sh -c</c> after a marker line, stopping at the first failure; then
    /// the record of what they made, and the tracked files and <c>.git</c> removed so only artefacts are committed.
    /// </summary>
    internal static string Script(IReadOnlyList<string> commands, string? proxyUrl, bool trust = false)
    {
        var script = new StringBuilder("set -e\n");
        script.Append($"export HOME={Home}\ncd {CodexCommandLine.Workspace}\n");
        if (trust)
        {
            script.Append($"export {string.Join(' ', TrustedAuthorities.Variables.Select(v => $"{v}={BundlePath}"))}\n");
        }

        // The files setup sees, as a repository of their own: what git status later calls untracked is what setup made.
        script.Append("git init -q && git add -A && git -c core.hooksPath=/dev/null -c user.name=sandbox-runner -c user.email=setup@sandbox-runner.invalid commit -q --allow-empty -m 'the files setup sees'\n");
        if (proxyUrl is not null)
        {
            script.Append($"export HTTP_PROXY={proxyUrl} HTTPS_PROXY={proxyUrl} http_proxy={proxyUrl} https_proxy={proxyUrl} NO_PROXY=localhost,127.0.0.1 no_proxy=localhost,127.0.0.1\n");
        }

        for (var i = 0; i < commands.Count; i++)
        {
            script.Append($"echo {Quote($"{StepMarker}{i + 1}/{commands.Count}] {commands[i]}")}\n");
            // One stream: the engine reads stdout and stderr apart, so a command's stderr could overtake the marker
            // before it and be cleared from the failure's output as if it were the previous command's.
            script.Append($"/bin/sh -c {Quote(commands[i])} 2>&1\n");
        }

        script.Append($"echo {Quote($"{StepMarker}done] recording what setup made")}\n");
        script.Append($"git -c core.fsmonitor=false status --porcelain=v1 -z --ignored=traditional --untracked-files=normal > {StatusFile}\n");
        script.Append("git ls-files -z | xargs -0 -r rm -f --\n");
        script.Append("rm -rf .git\n");
        if (trust)
        {
            script.Append($"rm -f {BundlePath}\n");
        }

        return script.ToString();
    }

    private static string Quote(string text) => "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
