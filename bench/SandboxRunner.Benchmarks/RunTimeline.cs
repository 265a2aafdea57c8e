using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Benchmarks;

/// <summary>
/// The runner's progress as it arrives, timestamped: when each task's first agent command was reported
/// (the fake Codex reports <c>@run 0 true</c> as soon as it ran), and what the environment steps said.
/// Reported synchronously by the runner, so a timestamp is when the runner itself knew.
/// </summary>
internal sealed partial class RunObserver : IProgress<TaskProgress>
{
    private readonly ConcurrentDictionary<string, long> _firstCommand = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _environmentMessages = new();
    private readonly Lock _gate = new();
    private (int Count, TaskCompletionSource Done)? _waiting;

    public IReadOnlyDictionary<string, long> FirstCommand => _firstCommand;

    public IReadOnlyList<string> EnvironmentMessages => [.. _environmentMessages];

    /// <summary>The setup image the run used, as its environment step named it.</summary>
    public string? SetupImage => EnvironmentMessages.Select(m => SetupTag().Match(m)).FirstOrDefault(m => m.Success)?.Value;

    public bool SetupReused => EnvironmentMessages.Any(m => m.Contains("setup reused", StringComparison.Ordinal));

    public void Clear()
    {
        _firstCommand.Clear();
        _environmentMessages.Clear();
    }

    /// <summary>Completes once <paramref name="count"/> tasks have reported their first command.</summary>
    public Task FirstCommandsAsync(int count)
    {
        lock (_gate)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting = (count, done);
            if (_firstCommand.Count >= count)
            {
                done.TrySetResult();
            }

            return done.Task;
        }
    }

    public void Report(TaskProgress value)
    {
        var now = Stopwatch.GetTimestamp();
        if (value.State == "environment")
        {
            _environmentMessages.Enqueue(value.Message);
        }
        else if (value.State == "command" && _firstCommand.TryAdd(value.TaskId, now))
        {
            lock (_gate)
            {
                if (_waiting is { } waiting && _firstCommand.Count >= waiting.Count)
                {
                    waiting.Done.TrySetResult();
                }
            }
        }
    }

    [GeneratedRegex("sandbox-runner/setup:[0-9a-f]+")]
    private static partial Regex SetupTag();
}

/// <summary>One task's start, in milliseconds: its container's create call to the first agent command, split into the engine calls on the way.</summary>
internal sealed record TaskStart(
    string TaskId, string ContainerId, double CreateToFirstCommand, double RunStartToFirstCommand, double Create, double Uploads, double Start, double StartedToFirstCommand);

/// <summary>
/// One run, in milliseconds: its wall time, the environment steps before its first task container (with every
/// engine and git call made then, and the time none was in flight), and each task's start.
/// </summary>
internal sealed record RunTimes(
    double Wall, double Prepare, int ImageBuilds, double ImageBuildMs, double? SetupMs, double? RunImageMs, bool SetupReused, IReadOnlyList<TaskStart> Tasks,
    IReadOnlyList<CallEvent> PrepareCalls, double PrepareOutsideCalls)
{
    public const string SetupRole = "environment-setup";
    public const string RunImageRole = "environment-run-image";

    /// <summary>Reads one run's engine and git calls (recorded since the run began) and progress into its times.</summary>
    public static RunTimes Of(
        long runStart, long runEnd, IReadOnlyList<CallEvent> calls, IReadOnlyList<CallEvent> gitCalls, IReadOnlyDictionary<string, CreatedContainer> specs,
        RunObserver observer, IReadOnlyList<string> taskIds)
    {
        // Only the calls this run began (an earlier run's background removals can end during this one).
        calls = calls.Where(c => c.Start >= runStart).ToList();
        var creates = calls.Where(c => c.Name == DockerCalls.Create && c.Container is not null && specs.ContainsKey(c.Container)).ToList();
        CallEvent? CreateOf(string role) => creates.FirstOrDefault(c => specs[c.Container!].Labels.GetValueOrDefault(Labels.Task) == role);
        double? CreateToCommit(string role) => CreateOf(role) is { } create
            && calls.LastOrDefault(c => c.Name == DockerCalls.Commit && c.Container == create.Container) is { } commit
                ? Timing.Ms(create.Start, commit.End)
                : null;

        var tasks = new List<TaskStart>();
        foreach (var taskId in taskIds)
        {
            var create = CreateOf(taskId) ?? throw new InvalidOperationException($"task {taskId} got no container");
            var id = create.Container!;
            var start = calls.Single(c => c.Name == DockerCalls.Start && c.Container == id);
            var first = observer.FirstCommand.TryGetValue(taskId, out var seen) ? seen
                : throw new InvalidOperationException($"task {taskId} reported no command; is `@run 0 true` its first step?");
            var uploads = calls.Where(c => c.Name == DockerCalls.PutArchive && c.Container == id).Sum(c => c.Ms);
            tasks.Add(new TaskStart(taskId, id, Timing.Ms(create.Start, first), Timing.Ms(runStart, first), create.Ms, uploads, start.Ms, Timing.Ms(start.End, first)));
        }

        var builds = calls.Where(c => c.Name == DockerCalls.Build).ToList();
        var firstTask = creates.Where(c => taskIds.Contains(specs[c.Container!].Labels.GetValueOrDefault(Labels.Task))).Min(c => c.Start);
        var prepare = calls.Select(c => c with { Name = $"engine: {c.Name}{RoleOf(c, specs)}" })
            .Concat(gitCalls.Select(c => c with { Name = Timing.GitLabel(c.Name) }))
            .Where(c => c.Start < firstTask)
            .ToList();
        return new RunTimes(
            Timing.Ms(runStart, runEnd), Timing.Ms(runStart, firstTask), builds.Count, builds.Sum(b => b.Ms),
            CreateToCommit(SetupRole), CreateToCommit(RunImageRole), observer.SetupReused, tasks,
            prepare, Timing.Outside(prepare, runStart, firstTask));
    }

    private static string RoleOf(CallEvent call, IReadOnlyDictionary<string, CreatedContainer> specs) =>
        call.Container is { } id && specs.TryGetValue(id, out var spec) && spec.Labels.GetValueOrDefault(Labels.Task) is { } role ? $" ({role})" : "";
}
