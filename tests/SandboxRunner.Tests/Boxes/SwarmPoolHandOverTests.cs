using SandboxRunner.Boxes.Swarm;

namespace SandboxRunner.Tests.Boxes;

/// <summary>
/// A warm box's hand-over to a task (<see cref="SwarmPool.TakeAsync"/>, <see cref="SwarmPool.AdoptAsync"/>) against a
/// fake manager: a task cancelled while its box is being relabelled must not leave that box running outside the pool,
/// where no idle expiry, no bound of <see cref="SwarmOptions.DefaultWarmBoxes"/> and (until the process ends) no sweep sees it.
/// </summary>
public sealed class SwarmPoolHandOverTests
{
    /// <summary>Holds every service update (the relabel) open: <c>updating</c> completes once one arrives, <c>release</c> answers it.</summary>
    private static (TaskCompletionSource Updating, TaskCompletionSource Release) HoldUpdates(FakeSwarmApi api)
    {
        var updating = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        api.OnUpdate = async _ =>
        {
            updating.TrySetResult();
            await release.Task;
        };
        return (updating, release);
    }

    [Fact]
    public async Task A_warm_box_whose_taker_is_cancelled_during_the_hand_over_is_removed_not_left_running_outside_the_pool()
    {
        await using var api = new FakeSwarmApi();
        var (updating, release) = HoldUpdates(api);
        await using var backend = api.Backend();
        backend.Pool.Policy.Warmed(FakeSwarmApi.WarmBox("svc1"));
        using var cancel = new CancellationTokenSource();

        var take = backend.Pool.TakeAsync("shape", new HashSet<string> { "n1" }, FakeSwarmApi.TaskLabels, cancel.Token);
        await updating.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => take);
        release.TrySetResult();

        Assert.Empty(backend.Pool.Policy.Idle);
        Assert.True(
            await FakeSwarmApi.EventuallyAsync(() => api.Requests.Contains("DELETE /services/svc1")),
            "the box left the pool with its task's cancellation but was never removed: " + string.Join(", ", api.Requests));
    }

    [Fact]
    public async Task A_box_being_made_whose_adopter_is_cancelled_during_the_hand_over_is_removed_not_left_running_outside_the_pool()
    {
        await using var api = new FakeSwarmApi();
        var (updating, release) = HoldUpdates(api);
        await using var backend = api.Backend();
        var policy = backend.Pool.Policy;
        Assert.Equal(["n1"], policy.PlanRefill("shape", ["n1"], wanted: 1));
        var claim = policy.Claim("shape", new HashSet<string> { "n1" })!;
        using var cancel = new CancellationTokenSource();

        var adopt = backend.Pool.AdoptAsync(claim, FakeSwarmApi.TaskLabels, cancel.Token);
        policy.Warmed(FakeSwarmApi.WarmBox("svc2"));
        await updating.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => adopt);
        release.TrySetResult();

        Assert.Equal(0, policy.Count);
        Assert.True(
            await FakeSwarmApi.EventuallyAsync(() => api.Requests.Contains("DELETE /services/svc2")),
            "the adopted box left the pool with its task's cancellation but was never removed: " + string.Join(", ", api.Requests));
    }

    [Fact]
    public async Task An_unusable_warm_box_whose_container_its_node_fails_to_remove_still_has_its_service_removed()
    {
        await using var api = new FakeSwarmApi { ContainerRunning = false, ContainerRemoval = 500 };
        await using var backend = api.Backend();
        backend.Pool.Policy.Warmed(FakeSwarmApi.WarmBox("svc3"));

        Assert.Null(await backend.Pool.TakeAsync("shape", new HashSet<string> { "n1" }, FakeSwarmApi.TaskLabels, CancellationToken.None));

        Assert.Empty(backend.Pool.Policy.Idle);
        Assert.True(
            await FakeSwarmApi.EventuallyAsync(() => api.Requests.Contains("DELETE /services/svc3")),
            "the box's node failed its container's removal, and its service (a replicated one, out of the pool) was left: " + string.Join(", ", api.Requests));
    }

    [Fact]
    public async Task A_hand_over_that_fails_in_a_way_no_one_foresaw_gives_the_task_a_cold_box_instead_of_failing_it()
    {
        await using var api = new FakeSwarmApi { GarbledInspect = true };
        await using var backend = api.Backend();
        backend.Pool.Policy.Warmed(FakeSwarmApi.WarmBox("svc4"));

        Assert.Null(await backend.Pool.TakeAsync("shape", new HashSet<string> { "n1" }, FakeSwarmApi.TaskLabels, CancellationToken.None));

        Assert.Empty(backend.Pool.Policy.Idle);
        Assert.True(await FakeSwarmApi.EventuallyAsync(() => api.Requests.Contains("DELETE /services/svc4")), "the unusable box was not removed: " + string.Join(", ", api.Requests));
    }

    [Fact]
    public async Task A_box_whose_service_removal_fails_still_counts_as_gone_so_its_shape_stops_counting_it_in_use()
    {
        await using var api = new FakeSwarmApi { ServiceRemoval = 500 };
        await using var backend = api.Backend();
        var engine = await backend.Nodes.EngineAsync("n1", CancellationToken.None) ?? throw new InvalidOperationException("the fake's node has no engine");
        var gone = 0;
        var box = new SwarmTaskBox(backend, "svc5", "n1", "n1", engine, "c-svc5", FakeSwarmApi.TaskLabels, "true") { OnGone = () => gone++ };

        await Assert.ThrowsAnyAsync<Exception>(() => box.DisposeAsync().AsTask());

        Assert.Equal(1, gone);
    }
}
