using System.Net;

namespace SandboxRunner.Configuration;

/// <summary>
/// What a config that reads well can still get wrong for a run: fields that cannot work together. Checked by
/// the doctor and before every run (dry runs included), never when the file is read, so that listing runs or
/// applying a result still works while it is being fixed.
/// </summary>
public static class ConfigChecks
{
    /// <summary>The problems that would make every task of a run fail; empty when there are none.</summary>
    public static IReadOnlyList<Problem> BeforeRun(RunnerConfig config)
    {
        var problems = new List<Problem>();
        if (config.NetworkPolicy != NetworkPolicy.None && IsLoopback(config.ModelBaseUrl))
        {
            var who = config.NetworkPolicy == NetworkPolicy.Deny
                ? "under network_policy deny the egress proxy forwards model requests from its own container, where it names the proxy itself (every request would end in a 502)"
                : "a task container reaches the model from its own network, where it names the container itself";
            problems.Add(new Problem(
                "model_base_url",
                $"'{config.ModelBaseUrl}' names this machine by a loopback address, and {who}; use an address of this machine that containers reach " +
                "(its docker0 bridge address, often 172.17.0.1, with the server listening there), or a host name that resolves to one"));
        }

        problems.AddRange(BackendProblems(config));
        return problems;
    }

    /// <summary>The swarm fields without a swarm, and what the swarm backend cannot do (docs/swarm.md).</summary>
    private static IEnumerable<Problem> BackendProblems(RunnerConfig config)
    {
        if (config.Backend == BackendKind.Docker)
        {
            if (config.Registry is not null)
            {
                yield return new Problem("registry", "is used only with backend swarm (where the nodes pull the runner's images from it); remove it, or set backend to swarm");
            }

            if (config.MaxTasksPerNode is not null)
            {
                yield return new Problem("max_tasks_per_node", "is used only with backend swarm; remove it (default_concurrency bounds one engine), or set backend to swarm");
            }

            yield break;
        }

        if (config.Runtime is not null)
        {
            yield return new Problem("runtime", "cannot be chosen with backend swarm (a swarm service names no OCI runtime); remove it, or use backend docker");
        }

        var environments = (config.Environment is { } single ? [(Field: "environment", Spec: single)] : Array.Empty<(string Field, EnvironmentSpec Spec)>())
            .Concat(config.Environments.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => (Field: $"environments.{e.Key}", Spec: e.Value)))
            .ToList();
        if (environments.Count > 0 && config.Registry is null)
        {
            yield return new Problem(
                "registry",
                $"{environments[0].Field} needs a registry with backend swarm: a setup and a run's checkout are committed as images on the node that ran them, " +
                "and the manager and the other nodes get them from the registry; set registry to a registry every node reaches (host:port, see docs/swarm.md), or use backend docker");
        }

        foreach (var (field, spec) in environments.Where(e => e.Spec.Runtime is not null))
        {
            yield return new Problem($"{field}.runtime", "cannot be chosen with backend swarm (a swarm service names no OCI runtime); remove it, or use backend docker");
        }
    }

    /// <summary>Throws <see cref="InvalidInputException"/> naming each problem of <see cref="BeforeRun"/>.</summary>
    public static void ThrowIfBroken(RunnerConfig config)
    {
        if (BeforeRun(config) is { Count: > 0 } problems)
        {
            throw new InvalidInputException(RunnerConfig.FileName, problems);
        }
    }

    private static bool IsLoopback(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return false;
        }

        var host = uri.IdnHost.TrimEnd('.');
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(host.Trim('[', ']'), out var address) && (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)));
    }
}
