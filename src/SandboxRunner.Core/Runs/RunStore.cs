using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Policy;

namespace SandboxRunner.Runs;

/// <summary>What <c>run.json</c> says about a run.</summary>
public sealed record RunRecord
{
    [JsonPropertyName("run_id")] public required string RunId { get; init; }
    [JsonPropertyName("status")] public required RunState Status { get; init; }
    [JsonPropertyName("base_ref")] public required string BaseRef { get; init; }
    [JsonPropertyName("base_commit")] public required string BaseCommit { get; init; }
    [JsonPropertyName("started_at")] public required DateTimeOffset StartedAt { get; init; }
    [JsonPropertyName("finished_at")] public DateTimeOffset? FinishedAt { get; init; }
    [JsonPropertyName("tasks")] public required IReadOnlyList<RunTaskRecord> Tasks { get; init; }
}

public sealed record RunTaskRecord(
    [property: JsonPropertyName("task_id")] string TaskId,
    [property: JsonPropertyName("status")] TaskStatus Status,
    [property: JsonPropertyName("branch")] string? Branch)
{
    /// <summary>The task's policy, so a recovered task is judged by the rules it ran under.</summary>
    [JsonPropertyName("allowed_paths")] public IReadOnlyList<string>? AllowedPaths { get; init; }

    [JsonPropertyName("allowed_commands")] public IReadOnlyList<string>? AllowedCommands { get; init; }

    [JsonPropertyName("timeout_sec")] public int? TimeoutSec { get; init; }

    /// <summary>The task's verify commands and inputs, so a recovered task reports them truthfully as not run.</summary>
    [JsonPropertyName("verify")] public IReadOnlyList<string>? Verify { get; init; }

    [JsonPropertyName("verify_inputs")] public IReadOnlyList<string>? VerifyInputs { get; init; }

    /// <summary>How many attempts the task runs; null (or 1) for one.</summary>
    [JsonPropertyName("attempts")] public int? Attempts { get; init; }
}

/// <summary>A run folder whose <c>run.json</c> cannot be read, and why.</summary>
public sealed record DamagedRun(string RunId, string Problem);

/// <summary>A <c>run.json</c> that is not valid: named with the file and the fix.</summary>
public sealed class DamagedRunException(string message) : Exception(message);

/// <summary>
/// The run folder (<c>.codex-runs/&lt;run_id&gt;/</c> at the repository root, kept out of git through
/// <c>info/exclude</c>): <c>run.json</c>, and per task <c>result.json</c>, <c>task.patch</c>,
/// <c>events.jsonl</c>, <c>stdout.log</c> and <c>stderr.log</c>, all written before the task's container
/// and tree are removed.
/// </summary>
public sealed class RunStore(HostRepository repository, RunResults? written = null)
{
    public const string FolderName = ".codex-runs";

    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    public string Root { get; } = Path.Combine(repository.Root, FolderName);

    public string RunFolder(string runId) => ContainedPath.Combine(Root, runId);

    public string TaskFolder(string runId, string taskId) => ContainedPath.Combine(Root, runId, "tasks", taskId);

    /// <summary>A task's folder, or with <paramref name="attempt"/> the folder of that attempt of it (<c>tasks/&lt;task&gt;/attempts/&lt;k&gt;</c>).</summary>
    public string TaskFolder(string runId, string taskId, int? attempt) =>
        attempt is { } k ? ContainedPath.Combine(Root, runId, "tasks", taskId, "attempts", k.ToString(System.Globalization.CultureInfo.InvariantCulture)) : TaskFolder(runId, taskId);

    public bool Exists(string runId) => Directory.Exists(RunFolder(runId));

    /// <summary>Written by a process that wants the run stopped; the run's owner polls for it (see <see cref="RunCancellation"/>).</summary>
    public string CancelRequestFile(string runId) => Path.Combine(RunFolder(runId), "cancel-requested");

    /// <summary>Adds the run folder to the repository's <c>info/exclude</c> once, so runs never show as untracked files.</summary>
    public async Task EnsureExcludedAsync(CancellationToken cancellationToken)
    {
        var exclude = Path.Combine(repository.CommonDir, "info", "exclude");
        var line = $"/{FolderName}/";
        var existing = File.Exists(exclude) ? await File.ReadAllLinesAsync(exclude, cancellationToken) : [];
        if (!existing.Contains(line, StringComparer.Ordinal))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(exclude)!);
            var prefix = existing.Length > 0 && !(await File.ReadAllTextAsync(exclude, cancellationToken)).EndsWith('\n') ? "\n" : "";
            await File.AppendAllTextAsync(exclude, $"{prefix}# sandbox-runner results\n{line}\n", cancellationToken);
        }
    }

    public async Task WriteRunAsync(RunRecord record, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(RunFolder(record.RunId));
        await WriteAtomicallyAsync(Path.Combine(RunFolder(record.RunId), "run.json"), JsonSerializer.SerializeToUtf8Bytes(record, Json), cancellationToken);
    }

    /// <summary>Where the task's patch is kept: the harvest writes it there directly.</summary>
    public string PatchFile(string runId, string taskId, int? attempt = null) => Path.Combine(TaskFolder(runId, taskId, attempt), "task.patch");

    /// <summary>
    /// Writes <c>result.json</c> (an attempt's into its own folder); the patch is already in <see cref="PatchFile"/>
    /// (an empty one is written when missing). The result of a task with attempts refers to its best attempt's patch.
    /// </summary>
    public async Task WriteResultAsync(string runId, TaskResult result, CancellationToken cancellationToken)
    {
        var folder = TaskFolder(runId, result.TaskId, result.Attempt);
        Directory.CreateDirectory(folder);
        if (result.Attempts is null && !File.Exists(PatchFile(runId, result.TaskId, result.Attempt)))
        {
            await File.WriteAllBytesAsync(PatchFile(runId, result.TaskId, result.Attempt), [], cancellationToken);
        }

        await WriteAtomicallyAsync(Path.Combine(folder, "result.json"), JsonSerializer.SerializeToUtf8Bytes(result, Json), cancellationToken);
        written?.Kept(runId, result);
    }

    /// <summary>The run's record; null when there is none; <see cref="DamagedRunException"/> when it cannot be read.</summary>
    public async Task<RunRecord?> ReadRunAsync(string runId, CancellationToken cancellationToken)
    {
        var path = Path.Combine(RunFolder(runId), "run.json");
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<RunRecord>(await File.ReadAllBytesAsync(path, cancellationToken), Json)
                ?? throw new JsonException("it holds null");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException or ArgumentException)
        {
            throw new DamagedRunException($"{Path.Combine(FolderName, runId, "run.json")} cannot be read ({e.Message}); delete the folder {Path.Combine(FolderName, runId)} if the run is of no use, or restore the file");
        }
    }

    /// <summary>A task's stored result; null when missing or unreadable (an unreadable one is as good as none).</summary>
    public Task<TaskResult?> ReadResultAsync(string runId, string taskId, CancellationToken cancellationToken) =>
        ReadResultAsync(runId, taskId, null, cancellationToken);

    /// <summary>A task's stored result, or with <paramref name="attempt"/> that attempt's; null when missing or unreadable.</summary>
    public async Task<TaskResult?> ReadResultAsync(string runId, string taskId, int? attempt, CancellationToken cancellationToken)
    {
        var path = Path.Combine(TaskFolder(runId, taskId, attempt), "result.json");
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<TaskResult>(await File.ReadAllBytesAsync(path, cancellationToken), Json);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>The stored runs, newest first; a damaged record does not hide the others.</summary>
    public async Task<IReadOnlyList<RunRecord>> ListRunsAsync(CancellationToken cancellationToken) =>
        (await ListAllAsync(cancellationToken)).Runs;

    /// <summary>The stored runs, newest first, and the run folders whose record is damaged.</summary>
    public async Task<(IReadOnlyList<RunRecord> Runs, IReadOnlyList<DamagedRun> Damaged)> ListAllAsync(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(Root))
        {
            return ([], []);
        }

        var runs = new List<RunRecord>();
        var damaged = new List<DamagedRun>();
        foreach (var folder in Directory.EnumerateDirectories(Root))
        {
            var id = Path.GetFileName(folder);
            if (!Ids.IsValid(id))
            {
                continue;
            }

            try
            {
                if (await ReadRunAsync(id, cancellationToken) is { } record)
                {
                    runs.Add(record);
                }
            }
            catch (DamagedRunException e)
            {
                damaged.Add(new DamagedRun(id, e.Message));
            }
        }

        return (runs.OrderByDescending(r => r.StartedAt).ToList(), damaged);
    }

    /// <summary>
    /// Keeps the newest <paramref name="keep"/> runs. Older run folders go; their <c>sandbox/</c> branches go
    /// only when the current branch already contains them, so unmerged work is never lost.
    /// </summary>
    public async Task<IReadOnlyList<string>> PruneAsync(int keep, Func<string, bool> isActive, CancellationToken cancellationToken)
    {
        var pruned = new List<string>();
        foreach (var run in (await ListRunsAsync(cancellationToken)).Skip(keep).Where(r => !isActive(r.RunId)))
        {
            ResultBranch.PruneMerged(repository, run.RunId);
            TreeDeletion.TryDelete(RunFolder(run.RunId));
            pruned.Add(run.RunId);
        }

        return pruned;
    }

    /// <summary>Opens the task's log files; every line written is redacted first.</summary>
    public TaskLogWriter OpenLogs(string runId, string taskId, Redactor redactor, int? attempt = null)
    {
        var folder = TaskFolder(runId, taskId, attempt);
        Directory.CreateDirectory(folder);
        return new TaskLogWriter(folder, redactor);
    }

    private static async Task WriteAtomicallyAsync(string path, byte[] content, CancellationToken cancellationToken)
    {
        var temp = path + ".tmp";
        await File.WriteAllBytesAsync(temp, content, cancellationToken);
        File.Move(temp, path, overwrite: true);
    }
}

/// <summary>
/// Streams a task's output to disk as it arrives: <c>stdout.log</c> and <c>stderr.log</c> verbatim but
/// redacted, <c>events.jsonl</c> with the stdout lines that are JSON events. Each file stops growing at a
/// cap, noted in its last line.
/// </summary>
public sealed class TaskLogWriter : IDisposable
{
    private const long CapBytes = 64L * 1024 * 1024;
    private readonly Redactor _redactor;
    private readonly CappedFile _stdout;
    private readonly CappedFile _stderr;
    private readonly CappedFile _events;
    private readonly Lock _gate = new();

    internal TaskLogWriter(string folder, Redactor redactor)
    {
        _redactor = redactor;
        _stdout = new CappedFile(Path.Combine(folder, "stdout.log"), noteWhenFull: true);
        _stderr = new CappedFile(Path.Combine(folder, "stderr.log"), noteWhenFull: true);

        // No note in events.jsonl: every line of it stays a JSON event.
        _events = new CappedFile(Path.Combine(folder, "events.jsonl"), noteWhenFull: false);
    }

    /// <summary>The first passed secret seen encoded (base64, hex, reversed) in the output, as "NAME (encoding)".</summary>
    public string? EncodedSecret { get; private set; }

    public void Stdout(string line)
    {
        EncodedSecret ??= _redactor.FindEncodedSecret(line);
        var redacted = _redactor.Redact(line);
        lock (_gate)
        {
            // The .log files are read by people (terminal escapes made visible); events.jsonl by programs.
            _stdout.WriteLine(TerminalText.Neutralise(redacted));
            if (line.StartsWith('{'))
            {
                _events.WriteLine(redacted);
            }
        }
    }

    public void Stderr(string line)
    {
        EncodedSecret ??= _redactor.FindEncodedSecret(line);
        var redacted = TerminalText.Neutralise(_redactor.Redact(line));
        lock (_gate)
        {
            _stderr.WriteLine(redacted);
        }
    }

    public void Dispose()
    {
        _stdout.Dispose();
        _stderr.Dispose();
        _events.Dispose();
    }

    private sealed class CappedFile(string path, bool noteWhenFull) : IDisposable
    {
        private readonly FileStream _stream = new(path, FileMode.Create, FileAccess.Write, FileShare.Read);
        private bool _full;

        public void WriteLine(string line)
        {
            if (_full)
            {
                return;
            }

            var bytes = Encoding.UTF8.GetBytes(line + "\n");
            if (_stream.Length + bytes.Length > CapBytes)
            {
                if (noteWhenFull)
                {
                    _stream.Write(Encoding.UTF8.GetBytes($"[sandbox-runner: log capped at {CapBytes / (1024 * 1024)} MiB]\n"));
                }

                _full = true;
                return;
            }

            _stream.Write(bytes);
        }

        public void Dispose() => _stream.Dispose();
    }
}
