namespace SandboxRunner.Runs;

/// <summary>Reads runs back: active ones from memory, finished ones from the run folder.</summary>
internal sealed class RunQueries(RunStore store, RunRegistry runs, Git.HostRepository repository)
{
    private ActiveRun? Active(string runId) => runs.Find(runId);

    /// <summary>A run not active here whose task trees' owner process is alive: running in another server or command line.</summary>
    private bool RunningElsewhere(string runId)
    {
        try
        {
            var owner = TaskTreeLayout.OwnerFile(repository, runId);
            return !runs.IsActive(runId) && File.Exists(owner) && !Sandbox.Labels.IsOrphanedBy(File.ReadAllText(owner).Trim());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return false;
        }
    }

    public async Task<RunStatusView?> GetRunAsync(string runId, CancellationToken cancellationToken)
    {
        if (Active(runId) is { } run)
        {
            return run.View();
        }

        if (!Policy.Ids.IsValid(runId))
        {
            return null;
        }

        RunRecord? record;
        try
        {
            record = await store.ReadRunAsync(runId, cancellationToken);
        }
        catch (DamagedRunException e)
        {
            return Damaged(new DamagedRun(runId, e.Message));
        }

        return record is null ? null : await StoredViewAsync(record, cancellationToken);
    }

    /// <summary>Every run on disk, newest first, with the active ones' live state; a damaged record is listed with its problem.</summary>
    public async Task<IReadOnlyList<RunStatusView>> ListRunsAsync(CancellationToken cancellationToken)
    {
        // Runs that started a moment ago may not have written run.json yet; they are listed all the same.
        var (stored, damaged) = await store.ListAllAsync(cancellationToken);
        var views = runs.All().Where(a => stored.All(r => r.RunId != a.Plan.RunId)).Select(a => a.View()).ToList();
        foreach (var record in stored)
        {
            views.Add(Active(record.RunId) is { } run ? run.View() : Summarize(record));
        }

        views.AddRange(damaged.Where(d => Active(d.RunId) is null).Select(Damaged));
        return views;
    }

    private async Task<RunStatusView> StoredViewAsync(RunRecord record, CancellationToken cancellationToken)
    {
        var tasks = new List<TaskStatusView>();
        foreach (var task in record.Tasks)
        {
            var result = await store.ReadResultAsync(record.RunId, task.TaskId, cancellationToken);
            tasks.Add(new TaskStatusView(task.TaskId, result is null && task.Status == TaskStatus.Queued ? TaskState.Queued : TaskState.Finished, result));
        }

        return Summarize(record) with { Tasks = tasks };
    }

    /// <summary>
    /// A stored run; one still marked running but not active here is running in another live process (its
    /// trees' owner), or was cut short by a stopped one.
    /// </summary>
    private RunStatusView Summarize(RunRecord record) => new()
    {
        RunId = record.RunId,
        Status = record.Status is RunState.Running or RunState.Cancelling
            ? RunningElsewhere(record.RunId) ? record.Status : RunState.Interrupted
            : record.Status,
        BaseCommit = record.BaseCommit,
        StartedAt = record.StartedAt,
        FinishedAt = record.FinishedAt,
        Tasks = record.Tasks.Select(t => new TaskStatusView(t.TaskId, t.Status is TaskStatus.Queued ? TaskState.Queued : TaskState.Finished, null)
        {
            Outcome = t.Status is TaskStatus.Queued ? null : t.Status,
        }).ToList(),
    };

    private static RunStatusView Damaged(DamagedRun run) => new()
    {
        RunId = run.RunId,
        Status = RunState.Interrupted,
        BaseCommit = "",
        Tasks = [],
        Problem = run.Problem,
    };
}
