using System.Text.Json.Serialization;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Policy;
using SandboxRunner.Boxes;

namespace SandboxRunner.Runs;

/// <summary>How a cancel reached a run.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<CancelRoute>))]
public enum CancelRoute
{
    /// <summary>The run was running in this process and was cancelled directly.</summary>
    [JsonStringEnumMemberName("in_process")] InProcess,

    /// <summary>Another live process owns the run; it saw the cancel request in the run folder and tore the run down.</summary>
    [JsonStringEnumMemberName("requested")] Requested,

    /// <summary>The owning process is gone: its containers were removed by label and its task trees recovered here.</summary>
    [JsonStringEnumMemberName("recovered")] Recovered,

    /// <summary>The owner did not end the run in time: its containers were removed by label; the owner harvests what is left.</summary>
    [JsonStringEnumMemberName("forced")] Forced,

    /// <summary>The run was not running (finished, cancelled or interrupted earlier); nothing was done.</summary>
    [JsonStringEnumMemberName("not_running")] NotRunning,
}

public sealed record CancelOutcome(
    [property: JsonPropertyName("route")] CancelRoute Route,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("run")] RunStatusView? Run);

/// <summary>
/// Cancelling a run whatever process owns it. A run belongs to the process that started it (a server or a
/// command-line run); another process cannot reach its cancellation token, so it asks through a marker
/// file in the run folder (<see cref="RunStore.CancelRequestFile"/>) that every owner polls for. When the
/// owner is gone (killed) there is nobody to ask: its containers are removed by label and its task trees
/// recovered like a restarted server would. When a live owner does not answer in time (an older version,
/// a hung process), its containers are removed by label, which ends its tasks; the owner still keeps
/// what they produced.
/// </summary>
internal sealed class RunCancellation(
    RunRegistry runs, RunStore store, HostRepository repository, RunQueries queries, RunLeftovers leftovers, RunRecovery recovery)
{
    public const string Source = "cancel arguments";
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    public async Task<CancelOutcome> CancelAsync(string runId, TimeSpan wait, CancellationToken cancellationToken)
    {
        if (!Ids.IsValid(runId))
        {
            throw new InvalidInputException(Source, "run_id", Ids.Rule);
        }

        if (runs.Cancel(runId))
        {
            await runs.WaitForAsync(runId, cancellationToken);
            return new CancelOutcome(CancelRoute.InProcess, $"run '{runId}' cancelled; each task's work is kept", await queries.GetRunAsync(runId, cancellationToken));
        }

        var record = await store.ReadRunAsync(runId, cancellationToken);
        var ownerFile = TaskTreeLayout.OwnerFile(repository, runId);
        if (record is null && !File.Exists(ownerFile))
        {
            throw new InvalidInputException(Source, "run_id", $"no run '{runId}' in this repository (`sandbox-runner runs` lists them)");
        }

        if (record is { Status: not (RunState.Running or RunState.Cancelling) } || !File.Exists(ownerFile))
        {
            return new CancelOutcome(CancelRoute.NotRunning, $"run '{runId}' is not running", await queries.GetRunAsync(runId, cancellationToken));
        }

        Directory.CreateDirectory(store.RunFolder(runId));
        await File.WriteAllTextAsync(store.CancelRequestFile(runId), Labels.CurrentOwner, cancellationToken);
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            if (await EndedAsync(runId, cancellationToken))
            {
                return new CancelOutcome(CancelRoute.Requested, $"run '{runId}' cancelled by its owner; each task's work is kept", await queries.GetRunAsync(runId, cancellationToken));
            }

            if (await OwnerGoneAsync(ownerFile, cancellationToken))
            {
                await recovery.RecoverInterruptedAsync(cancellationToken);
                return new CancelOutcome(CancelRoute.Recovered,
                    $"the process that ran '{runId}' is gone: its containers were removed and its task trees recovered as cancelled", await queries.GetRunAsync(runId, cancellationToken));
            }

            if (DateTime.UtcNow >= deadline)
            {
                // The owner is alive; its containers going ends its tasks (its teardown finds the network gone, which is no error).
                var removed = await leftovers.RemoveRunAsync(runId, cancellationToken);
                return new CancelOutcome(CancelRoute.Forced,
                    $"the owner of '{runId}' did not end it within {wait.TotalSeconds:F0} s; its {removed} container(s) were removed by label, and the owner keeps what its tasks produced",
                    await queries.GetRunAsync(runId, cancellationToken));
            }

            await Task.Delay(PollInterval, cancellationToken);
        }
    }

    private async Task<bool> EndedAsync(string runId, CancellationToken cancellationToken)
    {
        try
        {
            return await store.ReadRunAsync(runId, cancellationToken) is { Status: not (RunState.Running or RunState.Cancelling) };
        }
        catch (DamagedRunException)
        {
            return false; // written atomically, so only a run damaged by hand; the owner or the deadline decides
        }
    }

    private static async Task<bool> OwnerGoneAsync(string ownerFile, CancellationToken cancellationToken)
    {
        try
        {
            return Labels.IsOrphanedBy((await File.ReadAllTextAsync(ownerFile, cancellationToken)).Trim());
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return false; // the owner removes it at the very end of its teardown: the run is ending, not orphaned
        }
    }
}

/// <summary>
/// Polls a run's folder for a cancel request from another process and cancels the run when one appears.
/// Polling a file is what works across every owner (server, command line) and needs no socket or signal.
/// </summary>
internal sealed class CancelRequestWatch : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private CancelRequestWatch(string marker, Action cancel, TimeProvider clock)
    {
        _loop = WatchAsync(marker, cancel, clock, _stop.Token);
    }

    public static CancelRequestWatch Start(string marker, Action cancel, TimeProvider clock) => new(marker, cancel, clock);

    private static async Task WatchAsync(string marker, Action cancel, TimeProvider clock, CancellationToken stop)
    {
        try
        {
            while (!File.Exists(marker))
            {
                await Task.Delay(RunCancellation.PollInterval, clock, stop);
            }

            cancel();
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
