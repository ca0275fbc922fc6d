/** A segmented radio group (one choice of a few, as pill buttons): the views' method and procedure switches. */
export function SegmentedChoice<T extends string>({ label, name, options, labels, value, onChange, testIdPrefix }: {
  label: string;
  name: string;
  options: readonly T[];
  labels: Record<T, string>;
  value: T;
  onChange: (value: T) => void;
  testIdPrefix: string;
}) {
  return (
    <fieldset className="segmented" aria-label={label}>
      <legend className="sr-only">{label}</legend>
      {options.map((option) => (
        <label key={option} className={option === value ? 'checked' : undefined}>
          <input type="radio" name={name} value={option} checked={option === value} onChange={() => onChange(option)} data-testid={`${testIdPrefix}${option}`} />
          {labels[option]}
        </label>
      ))}
    </fieldset>
  );
}
