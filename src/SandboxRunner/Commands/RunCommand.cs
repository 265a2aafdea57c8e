using System.ComponentModel;
using System.Runtime.InteropServices;
using SandboxRunner.Configuration;
using SandboxRunner.Host.Reports;
using SandboxRunner.Policy;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;
using Spectre.Console;
using Spectre.Console.Cli;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

using SandboxRunner.Host.Composition;

namespace SandboxRunner.Host.Commands;

/// <summary>What <c>run</c> takes: the tasks file, the reports, and options that override the file's fields.</summary>
internal sealed class RunSettings : JsonSettings
{
    [CommandArgument(0, "<TASKS_FILE>")]
    [Description("the tasks: the arguments of run_codex_tasks as JSON, or just the array of tasks")]
    public string TasksFile { get; init; } = "";

    [CommandOption("--junit <FILE>")]
    [Description("JUnit XML: one testcase per task in one testsuite; failures carry notes and a log tail")]
    public string? Junit { get; init; }

    [CommandOption("--markdown <FILE>")]
    [Description("a summary table (also appended to $GITHUB_STEP_SUMMARY when it is set)")]
    public string? Markdown { get; init; }

    [CommandOption("--apply")]
    [Description("apply each successful task to the working tree and index (as apply_codex_result), in task order, stopping at the first that does not apply cleanly (it changes nothing)")]
    public bool Apply { get; init; }

    [CommandOption("--run-id <ID>")]
    [Description("the run's id (default: the file's run_id, or a new one)")]
    public string? RunId { get; init; }

    [CommandOption("--base-ref <REF>")]
    [Description("the commit the tasks start from (default: the file's base_ref, or HEAD)")]
    public string? BaseRef { get; init; }

    [CommandOption("--concurrency <N>")]
    [Description("how many tasks run at once, 1 to 8")]
    public string? ConcurrencyText { get; init; }

    [CommandOption("--resource-policy <P>")]
    [Description("what a task may use (the file's resource_policy)")]
    public string? ResourcePolicy { get; init; }

    [CommandOption("--dry-run")]
    [Description("check the tasks, the config and the images; run nothing")]
    public bool DryRun { get; init; }

    public int? Concurrency => int.TryParse(ConcurrencyText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var c) ? c : null;

    public override ValidationResult Validate() => WholeNumber("--concurrency", ConcurrencyText, 0, int.MaxValue, "a whole number from 1 to 8", out _);
}

/// <summary>
/// <c>sandbox-runner run TASKS_FILE</c>: the run <c>run_codex_tasks</c> does, through the same
/// <see cref="Runner.RunAsync"/>, with live progress, reports for CI and an exit code to branch on.
/// </summary>
internal sealed class RunCommand : AsyncCommand<RunSettings>
{
    public const string About = """
        Runs the tasks of TASKS_FILE (JSON: the arguments of the MCP tool run_codex_tasks, i.e. an object with
        "tasks" [{task_id, prompt, allowed_paths?, allowed_commands?, timeout_sec?, environment?, verify?, verify_timeout_sec?,
        verify_inputs?, attempts?}], "run_id"?, "base_ref"?, "concurrency"?, "resource_policy"?, "dry_run"?, "environment"?, "verify"?,
        "verify_timeout_sec"?, "verify_inputs"?; or just the array of tasks) with the repository's
        .mcp-codex.json, as the server would: results in .codex-runs/<run_id>/, trees on sandbox/<run_id>/<task_id>.
        Options given here override the file's fields. Progress goes to stderr: a table on a terminal, timestamped
        lines otherwise.

        Ctrl-C (or SIGTERM) cancels the run and keeps each task's work as cancelled, then exits 130; a second
        Ctrl-C stops waiting for the teardown but still removes the run's containers by label. A run stopped by
        `sandbox-runner cancel` from another process writes its reports and exits 1 (its tasks are cancelled).
        """;

    /// <summary>How long a second Ctrl-C still waits for the run's own teardown after removing its containers.</summary>
    private static readonly TimeSpan ForcedTeardownWait = TimeSpan.FromSeconds(15);

    public override Task<int> ExecuteAsync(CommandContext context, RunSettings options, CancellationToken cancellationToken) => Failures.GuardAsync(async () =>
    {
        var file = await TasksFile.ReadAsync(options.TasksFile, CancellationToken.None);
        // The command line's options win over the file's fields.
        var request = file with
        {
            RunId = options.RunId ?? file.RunId ?? Ids.NewRunId(TimeProvider.System),
            BaseRef = options.BaseRef ?? file.BaseRef,
            Concurrency = options.Concurrency ?? file.Concurrency,
            ResourcePolicy = options.ResourcePolicy ?? file.ResourcePolicy,
            DryRun = options.DryRun || file.DryRun,
        };
        var runId = request.RunId!;

        using var session = new CliSession(options);
        var runner = await session.RunnerAsync(CancellationToken.None);
        using var interrupt = new Interrupts();

        // Asked first so that an engine that does not answer is reported with its endpoint and the variables to check.
        await PingAsync(runner.Backend, interrupt.Cancel.Token);

        // Like a server at start: what killed runs of this repository left is removed and their work recovered.
        await runner.RecoverInterruptedAsync(interrupt.Cancel.Token);

        RunResult result;
        await using (var progress = ProgressView.Start((file.Tasks ?? []).Select(t => t.TaskId ?? "?").Where(Ids.IsValid).Distinct()))
        {
            interrupt.OnFirst = () => progress.Note($"interrupted: cancelling run {runId}; each task's work is kept (Ctrl-C again to stop waiting; its containers are still removed)");
            interrupt.OnSecond = () => progress.Note($"interrupted again: removing the containers of run {runId} now");
            var running = runner.RunAsync(request, progress, interrupt.Cancel.Token);
            var forced = Task.Delay(Timeout.Infinite, interrupt.Force.Token);
            if (await Task.WhenAny(running, forced) == forced)
            {
                await RemoveByLabelAsync(runner, runId);
                await Task.WhenAny(running, Task.Delay(ForcedTeardownWait, CancellationToken.None));
                await RemoveByLabelAsync(runner, runId);
                progress.Note($"stopped; what was not harvested is recovered by the next `sandbox-runner run` or server on this repository");
                return ExitCodes.Interrupted;
            }

            try
            {
                result = await running;
            }
            catch (InvalidInputException e) when (e.Source == RunPlanner.Source)
            {
                // The planner names the MCP tool's arguments; here they came from the tasks file and the options that override it.
                throw new InvalidInputException(Overrides(options) ? $"{options.TasksFile} (with the command line's options)" : options.TasksFile, e.Problems);
            }
            catch (OperationCanceledException)
            {
                // Ctrl-C here, or `sandbox-runner cancel` from another process: either way each task's result is on disk,
                // and the reports a pipeline uploads must still be written.
                result = await StoredResultAsync(runner, runId) ?? throw new OperationCanceledException($"run {runId} was cancelled before it was recorded");
                if (!interrupt.Cancel.IsCancellationRequested)
                {
                    progress.Note($"run {runId} was cancelled by another process (`sandbox-runner cancel` or an MCP client); each task's work is kept");
                }
            }
        }

        var code = await ReportAsync(options, result);
        if (options.Apply && !interrupt.Cancel.IsCancellationRequested && !await ApplyAsync(runner, result))
        {
            code = ExitCodes.TasksFailed;
        }

        return interrupt.Cancel.IsCancellationRequested ? ExitCodes.Interrupted : code;
    });

    private static bool Overrides(RunSettings options) =>
        options.RunId is not null || options.BaseRef is not null || options.ConcurrencyText is not null || options.ResourcePolicy is not null;

    /// <summary>Writes the reports asked for and the summary; returns 0 when every task succeeded, 4 when none could start, 1 otherwise.</summary>
    private static async Task<int> ReportAsync(RunSettings options, RunResult result)
    {
        if (options.Junit is not null)
        {
            await JunitReport.WriteAsync(result, options.Junit, CancellationToken.None);
        }

        if (options.Markdown is not null || Environment.GetEnvironmentVariable(MarkdownReport.StepSummaryVariable) is { Length: > 0 })
        {
            await MarkdownReport.WriteAsync(result, options.Markdown, Environment.GetEnvironmentVariable, CancellationToken.None);
        }

        if (options.Json)
        {
            await JsonOutput.WriteAsync(result);
        }
        else
        {
            await Console.Out.WriteAsync(Summary.Of(result));
        }

        if (result.NotStarted is { } reason)
        {
            await Console.Error.WriteLineAsync($"sandbox-runner: the run could not start its tasks: {reason.Split('\n')[0]}");
            return ExitCodes.NotStarted;
        }

        return result.Results.Any(JunitReport.Failed) ? ExitCodes.TasksFailed : ExitCodes.Success;
    }

    /// <summary>Applies each successful task that changed something, in task order; false at the first refusal.</summary>
    private static async Task<bool> ApplyAsync(Runner runner, RunResult result)
    {
        foreach (var task in result.Results.Where(r => r.Status == TaskStatus.Success && r.Branch is not null))
        {
            var outcome = await runner.ApplyAsync(result.RunId, task.TaskId, CancellationToken.None);
            await Console.Error.WriteLineAsync(ApplyCommand.Describe(task.TaskId, outcome));
            if (!outcome.Applied)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A cancelled run's results as they are on disk (the runner writes one for every task, also those that never started).</summary>
    private static async Task<RunResult?> StoredResultAsync(Runner runner, string runId)
    {
        var view = await runner.GetRunAsync(runId, CancellationToken.None);
        return view is null ? null : new RunResult
        {
            RunId = view.RunId,
            BaseCommit = view.BaseCommit,
            Results = view.Tasks.Select(t => t.Result ?? new TaskResult { TaskId = t.TaskId, Status = TaskStatus.Cancelled, Summary = "Cancelled." }).ToList(),
            TotalDurationMs = view.FinishedAt is { } end ? (long)(end - view.StartedAt).TotalMilliseconds : 0,
        };
    }

    private static async Task PingAsync(ITaskBackend backend, CancellationToken cancellationToken)
    {
        try
        {
            await backend.DescribeAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new InfrastructureException(e.Message, e);
        }
    }

    private static async Task RemoveByLabelAsync(Runner runner, string runId)
    {
        try
        {
            await runner.RemoveRunLeftoversAsync(runId, CancellationToken.None);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            await Console.Error.WriteLineAsync($"sandbox-runner: removing the containers of run {runId} failed ({e.Message}); the next run or server on this repository removes them");
        }
    }

    /// <summary>
    /// SIGINT and SIGTERM: the first cancels the run (its teardown keeps every task's work), the second stops
    /// waiting for that teardown (the run's containers are still removed by label), a third is left to the
    /// default handler and ends the process.
    /// </summary>
    private sealed class Interrupts : IDisposable
    {
        private readonly PosixSignalRegistration _sigint;
        private readonly PosixSignalRegistration _sigterm;
        private int _count;

        public Interrupts()
        {
            _sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle);
            _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle);
        }

        public CancellationTokenSource Cancel { get; } = new();

        public CancellationTokenSource Force { get; } = new();

        public Action? OnFirst { get; set; }

        public Action? OnSecond { get; set; }

        private void Handle(PosixSignalContext context)
        {
            switch (Interlocked.Increment(ref _count))
            {
                case 1:
                    context.Cancel = true;
                    OnFirst?.Invoke();
                    Cancel.Cancel();
                    break;
                case 2:
                    context.Cancel = true;
                    OnSecond?.Invoke();
                    Force.Cancel();
                    break;
                default:
                    context.Cancel = false;
                    break;
            }
        }

        public void Dispose()
        {
            _sigint.Dispose();
            _sigterm.Dispose();
            Cancel.Dispose();
            Force.Dispose();
        }
    }
}
