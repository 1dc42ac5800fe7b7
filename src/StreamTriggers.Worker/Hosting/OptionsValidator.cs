using Microsoft.Extensions.Options;

namespace StreamTriggers.Worker.Hosting;

/// <summary>Adapts an options class's own <c>Validate</c> (messages naming the key, value and what is allowed).</summary>
internal sealed class OptionsValidator<T>(Func<T, IEnumerable<string>> validate) : IValidateOptions<T>
    where T : class
{
    public ValidateOptionsResult Validate(string? name, T options)
    {
        var errors = validate(options).ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
