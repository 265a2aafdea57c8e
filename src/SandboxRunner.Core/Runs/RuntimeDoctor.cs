using System.Text;
using SandboxRunner.Configuration;
using SandboxRunner.Platform;
using SandboxRunner.Sandbox;

namespace SandboxRunner.Runs;

/// <summary>
/// The doctor's runtime checks: each OCI runtime the config names (top level, and every environment that names its
/// own) is one the engine lists, and a container of the task image starts under it; the detail says which kernel its
/// tasks see, so <c>runsc</c> shows gVisor's and <c>runc</c> the engine's own.
/// </summary>
public static class RuntimeDoctor
{
    private static readonly TimeSpan ProbeBudget = TimeSpan.FromSeconds(60);

    public static async Task<IReadOnlyList<DoctorCheck>> ExamineAsync(
        RunnerConfig config, IContainerEngine engine, string image, bool imagePresent, string? scope, CancellationToken cancellationToken)
    {
        var runtimes = await engine.RuntimesAsync(cancellationToken);
        var named = new List<(string Check, string? Name)> { ("runtime", config.Runtime) };
        if (config.Environment?.Runtime is { } own)
        {
            named.Add(($"runtime environment {RunnerConfig.DefaultEnvironment}", own));
        }

        named.AddRange(config.Environments.Where(e => e.Value.Runtime is not null).OrderBy(e => e.Key, StringComparer.Ordinal)
            .Select(e => ($"runtime environment {e.Key}", e.Value.Runtime)));

        var checks = new List<DoctorCheck>();
        foreach (var (check, name) in named)
        {
            if (RuntimeCheck.Problems(name, runtimes, config.NetworkPolicy).FirstOrDefault() is { Detail: not null } problem)
            {
                checks.Add(new DoctorCheck(check, Doctor.Fail, problem.Detail, problem.Fix));
                continue;
            }

            var runtime = runtimes.Find(name)!;
            var described = $"{runtime.Name}{(name is null ? " (the engine's default)" : "")}: {runtime.Path ?? runtime.Name}{string.Concat(runtime.Arguments.Select(a => " " + a))}";
            if (!imagePresent)
            {
                checks.Add(new DoctorCheck(check, Doctor.Ok, $"{described}; not started: the task image is not built yet", null));
                continue;
            }

            var (kernel, failure) = await ProbeAsync(engine, image, runtime.Name, scope, cancellationToken);
            checks.Add(failure is not null
                ? new DoctorCheck(check, Doctor.Fail, $"{described}; a container of {image} does not start under it: {failure}",
                    runtime.Name.StartsWith("runsc", StringComparison.Ordinal)
                        ? $"register gVisor with {RuntimeCheck.GvisorArguments} as its runtimeArgs (an old runsc's own network stack refuses Docker's namespaces on newer kernels), then send dockerd SIGHUP; see docs/gvisor.md"
                        : "see the engine's log for why the runtime cannot start containers, or name another runtime")
                : new DoctorCheck(check, Doctor.Ok, $"{described}; tasks see {Kernel(kernel, runtimes.HostKernel)}", null));
        }

        return checks;
    }

    /// <summary>Says whether <paramref name="kernel"/> (a task's /proc/version) is the engine's own or one between them.</summary>
    private static string Kernel(string kernel, string? hostKernel) =>
        hostKernel is null ? $"kernel \"{kernel}\""
        : kernel.Contains(hostKernel, StringComparison.Ordinal) ? $"the engine's own kernel ({hostKernel})"
        : $"a kernel of their own, not the engine's {hostKernel}: \"{kernel}\"";

    /// <summary>Starts <paramref name="image"/> under <paramref name="runtime"/>, hardened as a task is, to read the kernel it reports.</summary>
    private static async Task<(string Kernel, string? Failure)> ProbeAsync(IContainerEngine engine, string image, string runtime, string? scope, CancellationToken cancellationToken)
    {
        var labels = new Dictionary<string, string> { [Labels.Role] = "doctor" };
        if (scope is not null)
        {
            labels[Labels.Scope] = scope;
        }

        var spec = new ContainerSpec
        {
            Image = image,
            Entrypoint = ["cat", "/proc/version"],
            Command = [],
            User = UnixOwner.ImageUser.ToString(),
            WorkingDirectory = "/",
            Environment = new Dictionary<string, string>(),
            Mounts = [],
            Labels = labels,
            Limits = new ResourceLimits(MemoryBytes: 64L * 1024 * 1024, Cpus: 0.5, Pids: 32, TmpBytes: 1024 * 1024),
            MaxLogBytes = 64 * 1024,
            Runtime = runtime,
        };
        var output = new StringBuilder();
        try
        {
            await using var sandbox = await Sandbox.Sandbox.CreateAsync(engine, spec, cancellationToken);
            var exit = await sandbox.RunAsync(ProbeBudget, (_, chunk) => output.Append(Encoding.UTF8.GetString(chunk)), null, CancellationToken.None, cancellationToken);
            var text = TextCap.Cap(output.ToString().Trim(), 300);
            return exit.ExitCode == 0 ? (text, null) : ("", $"it exited with {exit.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no code (timed out)"}: {text}");
        }
        catch (InvalidOperationException e)
        {
            return ("", e.Message);
        }
    }
}
