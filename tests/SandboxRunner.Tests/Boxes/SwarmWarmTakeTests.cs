using SandboxRunner.Boxes.Swarm;

namespace SandboxRunner.Tests.Boxes;

/// <summary>
/// Taking a warm box (<see cref="SwarmBackend.TakeWarmAsync"/>) against a fake manager: the box is picked under the
/// placement lock and relabelled outside it, so tasks starting together do not wait for each other's relabels, while the
/// box's place stays booked on its node until its relabel lets swarm's listing count it.
/// </summary>
public sealed class SwarmWarmTakeTests
{
    /// <summary>Holds every relabel open until <c>release</c>; counts those that arrived.</summary>
    private static (Func<int> Arrived, TaskCompletionSource Release) HoldUpdates(FakeSwarmApi api)
    {
        var arrived = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        api.OnUpdate = async _ =>
        {
            Interlocked.Increment(ref arrived);
            await release.Task;
        };
        return (() => Volatile.Read(ref arrived), release);
    }

    private static async Task<(WarmBox? Warm, PlacementLease Lease)> TakeAsync(SwarmBackend backend) =>
        await backend.TakeWarmAsync("shape", await backend.Nodes.PlaceAsync(CancellationToken.None), FakeSwarmApi.TaskLabels, CancellationToken.None);

    [Fact]
    public async Task Tasks_taking_warm_boxes_together_are_relabelled_side_by_side_not_one_after_another()
    {
        await using var api = new FakeSwarmApi();
        var (arrived, release) = HoldUpdates(api);
        await using var backend = api.Backend();
        backend.Pool.Policy.Warmed(FakeSwarmApi.WarmBox("svc1"));
        backend.Pool.Policy.Warmed(FakeSwarmApi.WarmBox("svc2"));

        var first = TakeAsync(backend);
        var second = TakeAsync(backend);

        var together = await FakeSwarmApi.EventuallyAsync(() => arrived() == 2);
        release.SetResult();
        var taken = new List<(WarmBox? Warm, PlacementLease Lease)> { await first.WaitAsync(TimeSpan.FromSeconds(10)) };
        taken[0].Lease.Dispose();
        taken.Add(await second.WaitAsync(TimeSpan.FromSeconds(10)));
        taken[1].Lease.Dispose();

        Assert.True(together, "the second take's relabel waited for the first's to end");
        Assert.Equal(["svc1", "svc2"], taken.Select(t => t.Warm?.ServiceId).Order());
    }

    [Fact]
    public async Task A_box_being_relabelled_keeps_its_nodes_place_booked_until_its_lease_goes()
    {
        await using var api = new FakeSwarmApi();
        var (arrived, release) = HoldUpdates(api);
        await using var backend = api.Backend(perNode: 1);
        backend.Pool.Policy.Warmed(FakeSwarmApi.WarmBox("svc1"));

        var first = TakeAsync(backend);
        Assert.True(await FakeSwarmApi.EventuallyAsync(() => arrived() == 1));
        var next = backend.Nodes.PlaceAsync(CancellationToken.None);

        // The fake's listing never counts a box: only the book keeps the node full.
        await Task.Delay(300);
        var wentAhead = next.IsCompleted;
        release.SetResult();
        Assert.False(wentAhead, "a placement went ahead on the node whose one place a box being relabelled holds");
        var (warm, lease) = await first;
        Assert.Equal("svc1", warm?.ServiceId);
        lease.Dispose();
        (await next.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
    }

    [Fact]
    public async Task An_unusable_warm_box_gives_its_booked_place_back_and_leaves_a_fresh_lease_for_a_cold_box()
    {
        await using var api = new FakeSwarmApi { ContainerRunning = false };
        await using var backend = api.Backend(perNode: 1);
        backend.Pool.Policy.Warmed(FakeSwarmApi.WarmBox("svc1"));

        var (warm, lease) = await TakeAsync(backend);

        Assert.Null(warm);
        Assert.Equal(["n1"], lease.FreeNodes);
        lease.Dispose();
        Assert.True(await FakeSwarmApi.EventuallyAsync(() => api.Requests.Contains("DELETE /services/svc1")));
    }
}
