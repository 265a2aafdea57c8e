using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using SandboxRunner.Boxes.Swarm;

namespace SandboxRunner.Tests.Boxes;

/// <summary>Services and their tasks read as one pair, although a sibling's service may go between the two calls.</summary>
public sealed class SwarmServicesTests
{
    private static SwarmService Service(string id) => new() { ID = id };

    private static TaskResponse Task(string serviceId) => new() { ServiceID = serviceId };

    [Fact]
    public async Task A_service_removed_between_the_two_calls_makes_the_services_read_again_without_it()
    {
        var listings = new Queue<IList<SwarmService>>([[Service("a"), Service("gone")], [Service("a")]]);
        var asked = new List<string>();

        var (services, tasks) = await SwarmServices.ReadWithTasksAsync(
            _ => System.Threading.Tasks.Task.FromResult(listings.Dequeue()),
            (ids, _) =>
            {
                asked.Add(string.Join(",", ids));
                return ids.Contains("gone")
                    ? throw new DockerApiException(HttpStatusCode.NotFound, "{\"message\":\"service gone not found\"}")
                    : System.Threading.Tasks.Task.FromResult<IList<TaskResponse>>([Task("a")]);
            },
            CancellationToken.None);

        Assert.Equal(["a"], services.Select(s => s.ID));
        Assert.Equal(["a"], tasks.Select(t => t.ServiceID));
        Assert.Equal(["a,gone", "a"], asked);
    }

    [Fact]
    public async Task A_404_wrapped_as_the_runners_own_failure_is_read_again_too()
    {
        var calls = 0;

        var (_, tasks) = await SwarmServices.ReadWithTasksAsync(
            _ => System.Threading.Tasks.Task.FromResult<IList<SwarmService>>([Service("a")]),
            (_, _) => ++calls == 1
                ? throw new InvalidOperationException("Docker: listing the swarm's tasks failed (HTTP 404)", new DockerApiException(HttpStatusCode.NotFound, ""))
                : System.Threading.Tasks.Task.FromResult<IList<TaskResponse>>([Task("a")]),
            CancellationToken.None);

        Assert.Single(tasks);
    }

    [Fact]
    public async Task A_404_that_keeps_coming_is_thrown_after_five_reads()
    {
        var calls = 0;

        await Assert.ThrowsAsync<DockerApiException>(() => SwarmServices.ReadWithTasksAsync(
            _ => System.Threading.Tasks.Task.FromResult<IList<SwarmService>>([Service("a")]),
            (_, _) =>
            {
                calls++;
                throw new DockerApiException(HttpStatusCode.NotFound, "");
            },
            CancellationToken.None));
        Assert.Equal(5, calls);
    }

    [Fact]
    public async Task No_services_ask_for_no_tasks()
    {
        var (services, tasks) = await SwarmServices.ReadWithTasksAsync(
            _ => System.Threading.Tasks.Task.FromResult<IList<SwarmService>>([]),
            (_, _) => throw new InvalidOperationException("asked for the tasks of no service"),
            CancellationToken.None);

        Assert.Empty(services);
        Assert.Empty(tasks);
    }

    [Fact]
    public async Task Any_other_failure_is_not_retried()
    {
        var calls = 0;

        await Assert.ThrowsAsync<DockerApiException>(() => SwarmServices.ReadWithTasksAsync(
            _ => System.Threading.Tasks.Task.FromResult<IList<SwarmService>>([Service("a")]),
            (_, _) =>
            {
                calls++;
                throw new DockerApiException(HttpStatusCode.InternalServerError, "");
            },
            CancellationToken.None));
        Assert.Equal(1, calls);
    }
}
