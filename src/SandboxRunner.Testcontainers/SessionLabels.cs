using System.Reflection;
using DotNet.Testcontainers.Containers;
using SandboxRunner.Boxes;

namespace SandboxRunner.Testcontainers;

/// <summary>
/// The labels on everything a <see cref="CodexTaskRunner"/>'s runs create, beside the runner's own: the
/// Testcontainers session's (what its resource reaper, Ryuk, removes when the test process ends, however it
/// ends) and the module's (what <see cref="CodexTaskRunner.DisposeAsync"/> and the next start's sweep remove
/// when the reaper is disabled).
/// </summary>
public static class SessionLabels
{
    public const string RunnerPrefix = "sandbox-runner.";

    public const string TestcontainersPrefix = "org.testcontainers";

    /// <summary>The <see cref="CodexTaskRunner"/> that created a resource: what its disposal removes.</summary>
    public const string Instance = "sandbox-runner.testcontainers.instance";

    /// <summary><c>machine/pid</c> of the test process, also on images (which carry no runner owner label): what the next start's sweep checks.</summary>
    public const string Owner = "sandbox-runner.testcontainers.owner";

    // The names Testcontainers for .NET puts on its own resources (TestcontainersClient's, not public).
    private const string TestcontainersLang = TestcontainersPrefix + ".lang";
    private const string TestcontainersVersion = TestcontainersPrefix + ".version";
    private const string TestcontainersSessionId = TestcontainersPrefix + ".session-id";

    /// <summary>The labels of one runner instance in this test process's Testcontainers session.</summary>
    public static IReadOnlyDictionary<string, string> For(Guid instance)
    {
        var session = ResourceReaper.DefaultSessionId.ToString("D");
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [TestcontainersPrefix] = "true",
            [TestcontainersLang] = "dotnet",
            [TestcontainersVersion] = typeof(ResourceReaper).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown",
            [TestcontainersSessionId] = session,
            [ResourceReaper.ResourceReaperSessionLabel] = session,
            [Instance] = instance.ToString("D"),
            [Owner] = Labels.CurrentOwner,
        };
    }
}
