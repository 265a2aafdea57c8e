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

        return problems;
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
