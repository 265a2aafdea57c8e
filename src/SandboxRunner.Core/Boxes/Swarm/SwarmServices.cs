using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using static SandboxRunner.Boxes.Docker.DockerErrors;

namespace SandboxRunner.Boxes.Swarm;

/// <summary>Services and their tasks over the manager's API: one call (and at most one log line) per method.</summary>
/// <param name="login">Given with every service created: swarm's nodes pull its image from the registry with it.</param>
internal sealed partial class SwarmServices(DockerClient client, RegistryLogin login, ILogger logger)
{
    public async Task<string> CreateAsync(ServiceSpec spec, CancellationToken cancellationToken)
    {
        var auth = await login.ReadAsync(cancellationToken);
        try
        {
            var created = await client.Swarm.CreateServiceAsync(new ServiceCreateParameters { Service = spec, RegistryAuth = auth }, cancellationToken);
            var id = created.ID ?? throw new InvalidOperationException($"the swarm manager created service {spec.Name} without saying its id");
            LogCreated(id, spec.Name ?? "", spec.TaskTemplate?.ContainerSpec?.Image ?? "");
            return id;
        }
        catch (DockerApiException e)
        {
            throw Failure($"creating service {spec.Name} from {spec.TaskTemplate?.ContainerSpec?.Image}", e);
        }
    }

    /// <summary>
    /// Waits until the service's task runs in a container on a node and returns it; <paramref name="onPlaced"/> is
    /// called once the task has a node. A task swarm gives up on (refused, failed before it ran) throws with swarm's reason.
    /// </summary>
    public async Task<TaskResponse> WaitForContainerAsync(string serviceId, TimeSpan deadline, Action onPlaced, CancellationToken cancellationToken)
    {
        var placed = false;
        TaskResponse? last = null;
        var running = await Platform.Poll.ForAsync(
            async ct =>
            {
                var tasks = await TasksAsync([serviceId], ct);
                last = tasks.OrderByDescending(t => t.CreatedAt).FirstOrDefault();
                if (last is null)
                {
                    return null;
                }

                if (!placed && !string.IsNullOrEmpty(last.NodeID))
                {
                    placed = true;
                    onPlaced();
                }

                if (SwarmTasks.IsFinal(last))
                {
                    throw new InvalidOperationException($"swarm did not run the box's task: {SwarmTasks.Describe(last)}");
                }

                return last.Status?.State == TaskState.Running && !string.IsNullOrEmpty(last.Status.ContainerStatus?.ContainerID) ? last : null;
            },
            // Tight: every tick of this wait is on the box's start path (a tasks list costs the manager ~5 ms).
            TimeSpan.FromMilliseconds(25),
            deadline,
            cancellationToken);
        return running ?? throw new InvalidOperationException(
            $"the box's task did not start within {deadline.TotalSeconds:F0} s ({(last is null ? "swarm made no task" : SwarmTasks.Describe(last))})");
    }

    /// <summary>The selected services and their tasks, read as one consistent pair (<see cref="ReadWithTasksAsync"/>).</summary>
    public Task<(IList<SwarmService> Services, IList<TaskResponse> Tasks)> ListWithTasksAsync(LabelSelector selector, CancellationToken cancellationToken) =>
        ReadWithTasksAsync(ct => ListAsync(selector, ct), (ids, ct) => TasksAsync(ids, ct), cancellationToken);

    /// <summary>
    /// Services and then their tasks. A service removed between the two calls (a sibling box's teardown) makes Docker
    /// 20.10 answer the task filter that names it with 404; the services are then read again, without it (bounded: a
    /// fifth 404 is thrown). Seen as tasks failing with "runner error: service ... not found" (bench `swarm`, one node).
    /// </summary>
    public static async Task<(IList<SwarmService> Services, IList<TaskResponse> Tasks)> ReadWithTasksAsync(
        Func<CancellationToken, Task<IList<SwarmService>>> listServices,
        Func<IReadOnlyCollection<string>, CancellationToken, Task<IList<TaskResponse>>> listTasks,
        CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var services = await listServices(cancellationToken);
            try
            {
                return (services, services.Count == 0 ? [] : await listTasks(services.Select(s => s.ID).ToList(), cancellationToken));
            }
            catch (Exception e) when (attempt < 5 && IsNotFound(e))
            {
            }
        }
    }

    private static bool IsNotFound(Exception e) =>
        e is DockerApiException { StatusCode: HttpStatusCode.NotFound } || e.InnerException is DockerApiException { StatusCode: HttpStatusCode.NotFound };

    public async Task<IList<TaskResponse>> TasksAsync(IReadOnlyCollection<string> serviceIds, CancellationToken cancellationToken)
    {
        if (serviceIds.Count == 0)
        {
            return [];
        }

        try
        {
            return await client.Tasks.ListAsync(
                new TasksListParameters { Filters = new Dictionary<string, IDictionary<string, bool>> { ["service"] = serviceIds.ToDictionary(id => id, _ => true) } },
                cancellationToken);
        }
        catch (DockerApiException e)
        {
            throw Failure("listing the swarm's tasks", e);
        }
    }

    public async Task<IList<SwarmService>> ListAsync(LabelSelector selector, CancellationToken cancellationToken)
    {
        try
        {
            return await client.Swarm.ListServicesAsync(new ServiceListParameters { Filters = LabelFilter(selector) }, cancellationToken);
        }
        catch (DockerApiException e)
        {
            throw Failure("listing the swarm's services", e);
        }
    }

    /// <summary>Removes a service, and with it its task's container and that container's volumes on its node; one already gone is not an error.</summary>
    public async Task RemoveAsync(string serviceId, CancellationToken cancellationToken)
    {
        try
        {
            await client.Swarm.RemoveServiceAsync(serviceId, cancellationToken);
            LogRemoved(serviceId);
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
        }
        catch (DockerApiException e)
        {
            throw Failure($"removing service {Short(serviceId)}", e);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "created swarm service {Id} ({Name}) from {Image}")]
    private partial void LogCreated(string id, string name, string image);

    [LoggerMessage(Level = LogLevel.Debug, Message = "removed swarm service {Id}")]
    private partial void LogRemoved(string id);
}
